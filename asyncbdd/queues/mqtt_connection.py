"""Connections to an MQTT broker through paho-mqtt: one client and its network thread per
connection, every step bounded by the ``asyncbdd.connect_timeout`` setting, no
reconnecting behind the caller's back, and errors that name the alias, the broker
(password masked) and the fix; and the ``mqtt`` transport's settings.

The broker is the ``asyncbdd.mqtt.url`` setting, ``mqtt://[user:password@]host:port``
(``mqtts://`` for TLS, checked against the system's trusted certificates; the
``SSL_CERT_FILE`` environment variable names another bundle). Every connection has a
client id of its own (``asyncbdd-`` and 14 random hex digits) and a clean session that
ends when it closes: no session of the service is touched, and the broker keeps nothing
for asyncbdd.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from asyncbdd.config import get_settings
from asyncbdd.errors import InvalidInput
from asyncbdd.queues.base import BrokerUnreachable, Correlation, QueueUnavailable
from asyncbdd.queues.transports import Option
from asyncbdd.secrets import mask_url, mask_urls_in

__all__ = ["DEFAULT_URL", "OPTIONS", "PROTOCOLS", "BrokerAddress", "Connection"]

DEFAULT_URL = "mqtt://127.0.0.1:1883"
PROTOCOLS = ("5", "3.1.1")
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}

_CREDENTIALS = (0x86, 0x87, 0x8C)
"""CONNACK reason codes refusing who connects: bad user name or password, not authorized,
bad authentication method."""
_UNSUPPORTED_PROTOCOL = 0x84
_BUSY = (0x88, 0x89, 0x97, 0x9F)
"""CONNACK reason codes of a broker that may accept later: server unavailable, server
busy, quota exceeded, connection rate exceeded."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and who connects, read from an ``mqtt://`` or ``mqtts://`` URL."""

    url: str
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, text: str) -> BrokerAddress:
        """The address ``text`` names; ``ValueError`` saying what to write if it names none."""
        url = text.strip()
        try:
            parts = urlsplit(url)
            port = parts.port  # raises for a port that is no number
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in DEFAULT_PORTS:
            raise ValueError(
                "write mqtt://[user:password@]host:port (mqtts:// for TLS), "
                "e.g. mqtt://127.0.0.1:1883"
            )
        if not parts.hostname:
            raise ValueError(f"it names no host; write {parts.scheme}://HOST:PORT")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port {port} is out of range")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(
                "it has a path or a query, which an MQTT broker's address has not; the topic "
                "goes in the alias (mqtt:TOPIC)"
            )
        return cls(
            url=url,
            host=parts.hostname,
            port=port or DEFAULT_PORTS[parts.scheme],
            tls=parts.scheme == "mqtts",
            username=None if parts.username is None else unquote(parts.username),
            password=None if parts.password is None else unquote(parts.password),
        )

    def __str__(self) -> str:
        return f"MQTT broker at {mask_url(self.url)}"


def checked_url(text: str) -> str:
    """``text`` if it is an MQTT broker's URL (setting ``asyncbdd.mqtt.url``)."""
    return BrokerAddress.parse(text).url


def checked_qos(text: str) -> int:
    """The QoS ``text`` names, 0 or 1."""
    if text.strip() not in ("0", "1"):
        raise ValueError("write 0 or 1 (QoS 2 is not supported)")
    return int(text)


def checked_protocol(text: str) -> str:
    """The MQTT version ``text`` names, ``5`` or ``3.1.1``."""
    version = text.strip().lower().removeprefix("v")
    version = {"5.0": "5", "311": "3.1.1"}.get(version, version)
    if version not in PROTOCOLS:
        raise ValueError("write 5 or 3.1.1")
    return version


def checked_correlation(text: str) -> str:
    """``text`` if it says where messages carry the correlation id (or is empty)."""
    spec = text.strip()
    if spec:
        try:
            Correlation(spec)
        except InvalidInput:
            raise ValueError("write attribute:NAME, field:PATH or off") from None
    return spec


OPTIONS = {
    "url": Option(
        DEFAULT_URL,
        "the MQTT broker: mqtt://[user:password@]host:port, mqtts:// for TLS",
        checked_url,
    ),
    "qos": Option(
        1,
        "the QoS of subscriptions and of messages sent, 0 or 1 (an alias may say mqtt:TOPIC?qos=0)",
        checked_qos,
    ),
    "protocol": Option(
        "5",
        "the MQTT version, 5 or 3.1.1 (3.1.1 messages carry no properties: the "
        "correlation id must then be a body field)",
        checked_protocol,
    ),
    "correlation": Option(
        "",
        "where MQTT messages carry the correlation id, attribute:NAME (a user property), "
        "field:PATH or off (empty: as asyncbdd.queues.correlation)",
        checked_correlation,
    ),
}
"""The ``mqtt`` transport's settings, ``asyncbdd.mqtt.NAME`` (``ASYNCBDD_MQTT_NAME``)."""


class Connection:
    """One client of the broker with its network thread, from :meth:`connect` to
    :meth:`close`; it never connects again on its own (its user makes a new one).

    ``what`` and ``alias`` name what it is for in errors (``the MQTT topic 'orders/#'``,
    ``orders``); ``on_message`` is called, in the network thread, with every message
    received; ``on_lost``, there too, when the connection is lost.
    """

    def __init__(
        self,
        address: BrokerAddress,
        protocol: str,
        *,
        what: str,
        alias: str,
        on_message: Callable[[paho.MQTTMessage], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.address = address
        self.version5 = protocol == "5"
        self.what, self.alias = what, alias
        self.client_id = f"asyncbdd-{uuid.uuid4().hex[:14]}"
        self.lost_reason: str | None = None
        """How the connection was lost, once it was."""
        self._on_lost = on_lost
        self._closing = False
        self._answers = threading.Condition()
        self._connack: ReasonCode | None = None
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._pubacks: dict[int, ReasonCode] = {}
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5 if self.version5 else paho.MQTTv311,
            clean_session=None if self.version5 else True,
            reconnect_on_failure=False,
        )
        if address.tls:
            client.tls_set_context(ssl.create_default_context())
        if address.username is not None:
            client.username_pw_set(address.username, address.password)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_subscribe = self._subscribed
        client.on_publish = self._published
        if on_message is not None:
            client.on_message = lambda _client, _userdata, message: on_message(message)
        self._client = client

    @property
    def lost(self) -> bool:
        """Whether the connection was lost (or closed)."""
        return self.lost_reason is not None

    def connect(self) -> None:
        """Connect, and wait (the connect timeout in all) until the broker accepts.

        Raises :class:`~asyncbdd.queues.base.BrokerUnreachable` for a broker that refuses
        the connection, does not answer in time or is busy, and
        :class:`~asyncbdd.queues.base.QueueUnavailable` for refused credentials, a
        protocol version it does not speak, or a TLS failure.
        """
        timeout = get_settings().connect_timeout
        deadline = time.monotonic() + timeout
        self._client.connect_timeout = timeout
        try:
            if self.version5:
                self._client.connect(
                    self.address.host, self.address.port, keepalive(), clean_start=True
                )
            else:
                self._client.connect(self.address.host, self.address.port, keepalive())
        except ssl.SSLError as error:
            raise QueueUnavailable(
                f"Could not connect to {self.what} (alias {self.alias!r}): the TLS handshake "
                f"with {self.address} failed ({error}). Check that the broker's certificate "
                "is trusted (SSL_CERT_FILE names a CA bundle) and names the host in "
                "asyncbdd.mqtt.url, or use mqtt:// for a broker without TLS."
            ) from None
        except OSError as error:
            said = str(error)
            if self.address.tls and isinstance(error, ConnectionResetError):
                said += "; mqtts:// speaks TLS: check that the port is the broker's TLS listener"
            raise self.unreachable("connect to", _reason(error), said) from None
        self._client.loop_start()
        with self._answers:
            self._answers.wait_for(
                lambda: self._connack is not None or self.lost,
                max(deadline - time.monotonic(), 0.0),
            )
            accepted = self._connack
        if accepted is None:
            lost = self.lost_reason
            self.close()
            if lost is None:
                raise self.unreachable("connect to", f"no CONNACK within {timeout:g} s")
            raise self._closed_before_accepting(lost)
        if accepted.value != 0:  # a CONNACK accepts with 0 only
            self.close()
            raise self._refused(accepted)

    def subscribe(self, topic: str, qos: int) -> None:
        """Subscribe, and wait (at most the connect timeout) until the broker confirms:
        what is published from then on is received, and the retained messages are handed
        over."""
        timeout = get_settings().connect_timeout
        if self.version5:
            options = SubscribeOptions(
                qos=qos,
                noLocal=False,  # what asyncbdd sends itself is read back, like the service's
                retainAsPublished=False,  # the retain flag then marks what was retained
                retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE,
            )
            result, mid = self._client.subscribe(topic, options=options)
        else:
            result, mid = self._client.subscribe(topic, qos)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise self.unreachable("subscribe to", "connection lost", paho.error_string(result))
        with self._answers:
            self._answers.wait_for(lambda: mid in self._subacks or self.lost, timeout)
            codes = self._subacks.pop(mid, None)
        if codes is None:
            reason = self.lost_reason or f"no SUBACK within {timeout:g} s"
            raise self.unreachable("subscribe to", reason)
        refused = [code for code in codes if code.is_failure]
        if refused:
            raise QueueUnavailable(
                f"{self.address} refused to subscribe to {self.what} (alias {self.alias!r}): "
                f"{_named(refused[0])}. Check that the user in asyncbdd.mqtt.url may "
                "subscribe to it (the broker's access control list) and that the broker "
                "allows this filter's wildcards."
            )

    def publish(
        self,
        topic: str,
        body: str,
        qos: int,
        user_properties: Mapping[str, str],
        correlation_data: str | None,
    ) -> None:
        """Publish ``body``, and wait (at most the connect timeout) until the broker has it:
        its PUBACK at QoS 1, the message written to the connection at QoS 0."""
        timeout = get_settings().connect_timeout
        properties = None
        if self.version5:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if user_properties:
                properties.UserProperty = list(user_properties.items())
            if correlation_data is not None:
                properties.CorrelationData = correlation_data.encode()
        info = self._client.publish(
            topic, body.encode(), qos=qos, retain=False, properties=properties
        )
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as error:
            reason = self.lost_reason or "connection lost"
            raise self.unreachable("publish to", reason, str(error)) from None
        if not info.is_published():
            what = "PUBACK" if qos else "room to send"
            raise self.unreachable("publish to", f"no {what} within {timeout:g} s")
        with self._answers:
            answer = self._pubacks.pop(info.mid, None)
        if answer is not None and answer.is_failure:
            raise QueueUnavailable(
                f"{self.address} refused the message for {self.what} (alias {self.alias!r}): "
                f"{_named(answer)}. Check that the user in asyncbdd.mqtt.url may publish to "
                "it (the broker's access control list)."
            )

    def close(self) -> None:
        """Disconnect and stop the network thread; never raises."""
        self._closing = True
        with contextlib.suppress(OSError, ValueError):  # the connection is gone already
            self._client.disconnect()
        self._client.loop_stop()  # the thread ends once the DISCONNECT is written
        # The callbacks are methods of this connection: without them, the client is freed
        # (its sockets closed) as soon as it is dropped, not at the next garbage collection.
        client = self._client
        client.on_connect = client.on_disconnect = client.on_message = None
        client.on_subscribe = client.on_publish = None

    def unreachable(self, action: str, reason: str, detail: str = "") -> BrokerUnreachable:
        """The error of a broker that did not answer when trying to ``action`` it."""
        said = f": {mask_urls_in(detail)}" if detail and detail != reason else ""
        return BrokerUnreachable(
            f"Could not {action} {self.what} (alias {self.alias!r}): {self.address} did not "
            f"answer ({reason}{said}). Check that the broker runs and is not stopped or "
            "overloaded, and that asyncbdd.mqtt.url names it; asyncbdd.connect_timeout bounds "
            "each attempt.",
            broker=str(self.address),
            reason=reason,
        )

    def _refused(self, code: ReasonCode) -> QueueUnavailable:
        what = f"{self.address} refused the connection for {self.what} (alias {self.alias!r})"
        if code.value in _CREDENTIALS:
            return QueueUnavailable(
                f"{what}: it refused the credentials ({_named(code)}). Check the user and "
                "password in asyncbdd.mqtt.url (mqtt://USER:PASSWORD@HOST:PORT), and that the "
                "user may connect."
            )
        if code.value == _UNSUPPORTED_PROTOCOL or (self.version5 and code.value < 0x80):
            return QueueUnavailable(f"{what}: {_named(code)}. {self._protocol_fix()}")
        if code.value in _BUSY:
            return BrokerUnreachable(
                f"{what}: {_named(code)}. It may accept later; asyncbdd tries again.",
                broker=str(self.address),
                reason=_named(code),
            )
        return QueueUnavailable(
            f"{what}: {_named(code)}. Check the broker's configuration and asyncbdd.mqtt.url."
        )

    def _closed_before_accepting(self, lost: str) -> QueueUnavailable:
        message = (
            f"{self.address} closed the connection for {self.what} (alias {self.alias!r}) "
            f"before accepting it ({lost})."
        )
        if self.version5:
            return QueueUnavailable(f"{message} {self._protocol_fix()}")
        return QueueUnavailable(f"{message} Check the broker's log and asyncbdd.mqtt.url.")

    def _protocol_fix(self) -> str:
        if not self.version5:
            return "Check that it is an MQTT broker (asyncbdd.mqtt.url)."
        return (
            "The broker may not speak MQTT 5: set asyncbdd.mqtt.protocol = 3.1.1 (its "
            "messages carry no properties, so the correlation id must then be a field of the "
            "body: asyncbdd.mqtt.correlation = field:correlation_id)."
        )

    # paho's callbacks, in its network thread -------------------------------------------

    def _connected(self, _client: Any, _userdata: Any, _flags: Any, code: Any, _props: Any) -> None:
        with self._answers:
            self._connack = code
            self._answers.notify_all()

    def _disconnected(
        self, _client: Any, _userdata: Any, flags: Any, code: Any, _props: Any
    ) -> None:
        if getattr(flags, "is_disconnect_packet_from_server", False):
            reason = f"the broker ended the connection: {_named(code)}"
        else:
            reason = f"connection lost: {_named(code)}"
        with self._answers:
            self.lost_reason = reason
            self._answers.notify_all()
        if self._on_lost is not None and not self._closing:
            self._on_lost()

    def _subscribed(self, _client: Any, _userdata: Any, mid: int, codes: Any, _props: Any) -> None:
        with self._answers:
            self._subacks[mid] = list(codes)
            self._answers.notify_all()

    def _published(self, _client: Any, _userdata: Any, mid: int, code: Any, _props: Any) -> None:
        with self._answers:
            self._pubacks[mid] = code


def keepalive() -> int:
    """Seconds of silence after which a client asks the broker whether it is there (and
    gives it as long again to answer): the connect timeout, rounded up."""
    return max(1, math.ceil(get_settings().connect_timeout))


def _named(code: ReasonCode) -> str:
    return f"{code.getName()}, reason code 0x{code.value:02X}"


def _reason(error: OSError) -> str:
    """How a broker failed to answer a connection, from the socket's error."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if "Name or service not known" in str(error) or "nodename" in str(error):
        return "unknown host"
    return "could not connect"
