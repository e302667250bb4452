"""MQTT topics through paho-mqtt: a subscription made when the reader opens (at the start
of the first scenario), messages handed over by the client's network thread as they
come; and the ``mqtt`` transport's registration.

An alias ``mqtt:TOPIC`` names a topic or a topic filter with wildcards
(``mqtt:orders/+/created``, ``mqtt:orders/#``), and ``mqtt:TOPIC?qos=0`` a QoS other than
the setting ``asyncbdd.mqtt.qos`` (default 1) for its subscription and what is sent to it.

Reading takes nothing from anyone: every subscriber gets its own copy, and asyncbdd
subscribes with a client id of its own and a clean session, never through a shared
subscription (``$share/...`` is refused). With MQTT 5 (the default, setting
``asyncbdd.mqtt.protocol``) a message's user properties are its attributes, so the
``correlation_id`` user property names its scenario; MQTT 5's CorrelationData property
names it when no user property of that name is there (the user property wins). Sending
publishes the attributes as user properties, and the correlation id as CorrelationData
too (a service answering in MQTT 5's request/response way copies it into its answer).
MQTT 3.1.1 messages carry no properties: the correlation id must then be a field of the
body (``asyncbdd.mqtt.correlation = field:correlation_id``).

A retained message the broker hands over on subscribing was published before asyncbdd
subscribed: it is passed on only if it carries a correlation id (then counted by the
scenario whose id it is, such as one the service published while asyncbdd was
reconnecting), and never twice (one received already is recognised). The others are not
counted, and a wait that fails says how many there were. asyncbdd never publishes a
retained message and never clears one.

A lost connection is reported to the waits at once, and made again (and subscribed
again) by the next read; what was published in between never reaches the reader (its
session keeps nothing), and a wait that fails says so.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import parse_qsl

import paho.mqtt.client as paho

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration
from asyncbdd.errors import ConfigurationError, InvalidInput
from asyncbdd.queues.base import Correlation, Queue
from asyncbdd.queues.message import Message
from asyncbdd.queues.mqtt_connection import OPTIONS, BrokerAddress, Connection, checked_qos
from asyncbdd.queues.transports import Transport, register_transport, transport_options
from asyncbdd.secrets import mask_url

__all__ = ["MqttTopic"]

BATCH = 500
"""Most messages one read hands over."""
REMEMBERED = 10_000
"""How many received messages are remembered, to recognise a retained one handed over
again on subscribing again."""
SHARED_PREFIXES = ("$share/", "$queue/")


class _Delivery(NamedTuple):
    received_at: float
    message: paho.MQTTMessage


class _Deliveries:
    """What the network thread received, for the reader to take, in batches."""

    def __init__(self) -> None:
        self._items: deque[_Delivery] = deque()
        self._changed = threading.Condition()
        self._woken = False

    def put(self, delivery: _Delivery) -> None:
        with self._changed:
            self._items.append(delivery)
            self._changed.notify()

    def wake(self) -> None:
        """End the wait of a :meth:`take` under way (the connection was lost)."""
        with self._changed:
            self._woken = True
            self._changed.notify()

    def take(self, wait: float, most: int) -> list[_Delivery]:
        """What arrived (at most ``most``), waiting up to ``wait`` seconds for the first."""
        with self._changed:
            if not self._items and wait > 0:
                self._changed.wait_for(lambda: self._items or self._woken, wait)
            self._woken = False
            return [self._items.popleft() for _ in range(min(most, len(self._items)))]

    def empty(self) -> bool:
        with self._changed:
            return not self._items

    def clear(self) -> None:
        with self._changed:
            self._items.clear()


class MqttTopic(Queue):
    """An MQTT topic or topic filter, subscribed to when opened.

    ``qos``, ``url`` and ``protocol`` default to the settings ``asyncbdd.mqtt.qos``,
    ``asyncbdd.mqtt.url`` and ``asyncbdd.mqtt.protocol``; ``correlation`` to
    ``asyncbdd.mqtt.correlation`` or, empty, ``asyncbdd.queues.correlation``. Raises
    :class:`~asyncbdd.errors.ConfigurationError` for a malformed topic filter, and for a
    correlation id in an attribute with MQTT 3.1.1, whose messages cannot carry one.
    """

    kind = "MQTT topic"
    noun = "topic"
    read_from_scenario_start = True

    def __init__(
        self,
        alias: str,
        topic: str,
        *,
        qos: int | None = None,
        url: str | None = None,
        protocol: str | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        options = transport_options("mqtt")
        spec = str(options["correlation"])
        if correlation is None and spec:
            correlation = Correlation(spec)
        super().__init__(alias, correlation)
        self.topic = _checked_filter(alias, topic)
        self.wildcard = any(level in ("+", "#") for level in topic.split("/"))
        self.qos = int(options["qos"]) if qos is None else qos  # type: ignore[call-overload]
        self.protocol = protocol or str(options["protocol"])
        try:
            self.address = BrokerAddress.parse(url or str(options["url"]))
        except ValueError as error:
            raise ConfigurationError(
                f"The MQTT broker URL {mask_url(url or '')!r} is invalid: {error}."
            ) from None
        if self.protocol != "5" and self.correlation.kind == "attribute":
            raise ConfigurationError(
                f"MQTT 3.1.1 messages carry no properties, so those of the MQTT topic "
                f"{topic!r} (alias {alias!r}) cannot carry the correlation id in the "
                f"{self.correlation}. Set asyncbdd.mqtt.correlation = field:correlation_id "
                "(the id in a field of the JSON body; any dotted path) or off, or use MQTT 5 "
                "(asyncbdd.mqtt.protocol = 5), whose user properties carry it."
            )
        self._deliveries = _Deliveries()
        self._subscription: Connection | None = None
        self._publisher: Connection | None = None
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._retained_not_counted = 0
        self._lost_at: float | None = None
        """When the subscription was lost, while it is."""
        self._last_gap: tuple[float, float] | None = None
        """When the latest lost subscription was lost and made again."""
        self._count = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"MQTT topic {self.topic!r} at {mask_url(self.address.url)}"

    def broker(self) -> str:
        return str(self.address)

    def longest_call(self) -> float:
        # subscribing: connecting and the confirmation, within the connect timeout, then
        # closing what a failed attempt left
        return 2 * get_settings().connect_timeout

    def open(self) -> None:
        """Connect and subscribe, and wait (the connect timeout in all) until the broker
        confirmed: what is published from then on is received."""
        self._drop_subscription()
        connection = Connection(
            self.address,
            self.protocol,
            what=self._what(),
            alias=self.alias,
            on_message=self._arrived,
            on_lost=self._deliveries.wake,
        )
        connection.connect()
        try:
            connection.subscribe(self.topic, self.qos)
        except Exception:
            connection.close()
            raise
        now = time.monotonic()
        with self._lock:
            self._subscription = connection
            if self._lost_at is not None:
                self._last_gap, self._lost_at = (self._lost_at, now), None

    def receive(self, wait: float) -> list[Message]:
        subscription = self._subscription
        if subscription is None:
            self.open()
            subscription = self._subscription
            assert subscription is not None
        deliveries: list[_Delivery] = []
        if not (subscription.lost and self._deliveries.empty()):
            deliveries = self._deliveries.take(wait, BATCH)
        if not deliveries and subscription.lost:
            self._lose()
            raise subscription.unreachable("read from", subscription.lost_reason or "")
        return [
            message
            for message in (self._message(delivery) for delivery in deliveries)
            if message is not None
        ]

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        """Publish ``body`` on the topic, not retained, at the alias's QoS; it has reached
        the broker when this returns (its PUBACK, at QoS 1)."""
        if self.wildcard:
            raise InvalidInput(
                f"The alias {self.alias!r} names an MQTT topic filter, {self.topic!r}, which "
                "cannot be published to: name one topic (mqtt:TOPIC, no + or #) in an alias "
                "of its own to send to it."
            )
        if key is not None:
            raise InvalidInput(
                f"MQTT messages have no key; send {self.topic!r} (alias {self.alias!r}) a "
                "message without one, or put it in the body or an attribute."
            )
        if self.protocol != "5" and attributes:
            raise InvalidInput(
                f"MQTT 3.1.1 messages carry a body only: {', '.join(sorted(attributes))} "
                f"cannot be sent to {self.topic!r} (alias {self.alias!r}). Put them in the "
                "JSON body, or use MQTT 5 (asyncbdd.mqtt.protocol = 5)."
            )
        correlation_data = None
        if self.correlation.kind == "attribute":
            correlation_data = attributes.get(self.correlation.name)
        publisher = self._publishing()
        try:
            publisher.publish(self.topic, body, self.qos, attributes, correlation_data)
        except Exception:
            with self._lock:
                if self._publisher is publisher:
                    self._publisher = None
            publisher.close()  # what it could not deliver is not sent later
            raise

    def close(self) -> None:
        """Disconnect both clients; opening it again subscribes anew."""
        self._drop_subscription()
        with self._lock:
            publisher, self._publisher = self._publisher, None
            self._lost_at = self._last_gap = None
            self._seen.clear()
            self._retained_not_counted = 0
        if publisher is not None:
            publisher.close()
        self._deliveries.clear()

    def problems(self) -> str | None:
        now = time.monotonic()
        found = []
        if self._lost_at is not None:
            found.append(
                f"the connection was lost {format_duration(now - self._lost_at)} ago and is "
                "not made again yet: what is published meanwhile never reaches asyncbdd (its "
                "session keeps nothing)"
            )
        elif self._last_gap is not None:
            lost, made = self._last_gap
            found.append(
                f"the connection was lost for {format_duration(made - lost)}, "
                f"{format_duration(now - made)} ago: what was published then never reached "
                "asyncbdd unless it was retained (its session keeps nothing)"
            )
        count = self._retained_not_counted
        if count:
            found.append(
                f"{count} retained message{'' if count == 1 else 's'} handed over when "
                f"asyncbdd subscribed {'was' if count == 1 else 'were'} not counted: published "
                f"before it subscribed, carrying no {self.correlation} (or received already)"
            )
        return "; ".join(found) or None

    def _arrived(self, message: paho.MQTTMessage) -> None:  # in the network thread
        self._deliveries.put(_Delivery(time.monotonic(), message))

    def _message(self, delivery: _Delivery) -> Message | None:
        """The message of a delivery, or ``None`` for a retained one not to count."""
        raw = delivery.message
        properties = getattr(raw, "properties", None)
        attributes = {
            str(name): str(value) for name, value in getattr(properties, "UserProperty", None) or []
        }
        data = getattr(properties, "CorrelationData", None)
        if (
            data is not None
            and self.correlation.kind == "attribute"
            and self.correlation.name not in attributes
        ):
            attributes[self.correlation.name] = bytes(data).decode("utf-8", "replace")
        fingerprint = _fingerprint(raw, attributes)
        self._count += 1
        message = self.message(
            bytes(raw.payload),
            attributes,
            message_id=f"{raw.topic}#{self._count}",
            received_at=delivery.received_at,
        )
        if raw.retain and (
            fingerprint in self._seen
            or not self.correlation.enabled
            or message.correlation_id is None
        ):
            self._retained_not_counted += 1
            return None
        self._seen[fingerprint] = None
        self._seen.move_to_end(fingerprint)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return message

    def _publishing(self) -> Connection:
        """The publisher's connection, made afresh if there is none or it was lost."""
        with self._lock:
            publisher = self._publisher
        if publisher is not None and not publisher.lost:
            return publisher
        if publisher is not None:
            publisher.close()
        fresh = Connection(self.address, self.protocol, what=self._what(), alias=self.alias)
        fresh.connect()
        with self._lock:
            self._publisher = fresh
        return fresh

    def _lose(self) -> None:
        """Forget a subscription whose connection was lost: the next read makes it again."""
        self._drop_subscription()
        with self._lock:
            if self._lost_at is None:
                self._lost_at = time.monotonic()

    def _drop_subscription(self) -> None:
        with self._lock:
            subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()

    def _what(self) -> str:
        return f"the MQTT topic {self.topic!r}"


def _fingerprint(raw: paho.MQTTMessage, attributes: Mapping[str, str]) -> int:
    """What tells one message from another: its topic, body and properties (a 64-bit
    hash: of the :data:`REMEMBERED` messages, two tell apart but for 1 chance in 10**11)."""
    return hash((raw.topic, bytes(raw.payload), tuple(sorted(attributes.items()))))


def _checked_filter(alias: str, topic: str) -> str:
    """``topic`` if it is a topic or topic filter asyncbdd may subscribe to."""

    def refuse(why: str) -> ConfigurationError:
        return ConfigurationError(
            f"Queue alias {alias!r} = 'mqtt:{topic}' is not understood (setting "
            f"asyncbdd.queues): {why}. Write {FORMS}."
        )

    if not topic:
        raise refuse("it names no topic")
    if "\x00" in topic or len(topic.encode()) > 65535:
        raise refuse("a topic has no NUL character and at most 65535 bytes")
    if topic.startswith(SHARED_PREFIXES):
        raise refuse(
            "a shared subscription hands each message to one subscriber of its group only, "
            "so reading it would take messages away from the service's own consumers; name "
            "the topic itself (asyncbdd gets its own copy)"
        )
    levels = topic.split("/")
    for number, level in enumerate(levels):
        if "#" in level and (level != "#" or number != len(levels) - 1):
            raise refuse("'#' may only be the last level, alone (orders/#)")
        if "+" in level and level != "+":
            raise refuse("'+' must be a whole level (orders/+/created)")
    return topic


def _build(alias: str, target: str) -> Queue:
    """The topic ``mqtt:TOPIC`` or ``mqtt:TOPIC?qos=N`` names."""
    topic, _, query = target.partition("?")
    qos = None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "qos":
            raise ConfigurationError(
                f"Queue alias {alias!r} = 'mqtt:{mask_url(target)}' has an unknown option "
                f"{name!r} (setting asyncbdd.queues); the one option is qos=0 or qos=1."
            )
        try:
            qos = checked_qos(value)
        except ValueError:
            raise ConfigurationError(
                f"Queue alias {alias!r} = 'mqtt:{mask_url(target)}': write qos=0 or qos=1 "
                "(QoS 2 is not supported)."
            ) from None
    return MqttTopic(alias, topic.strip(), qos=qos)


FORMS = "mqtt:TOPIC, mqtt:FILTER (wildcards + and #, e.g. mqtt:orders/+/created), mqtt:TOPIC?qos=0"

register_transport(
    Transport(
        scheme="mqtt",
        build=_build,
        forms=FORMS,
        describes="an MQTT topic or topic filter, subscribed with a clean session of its own",
        options=OPTIONS,
        extra="mqtt",
        module=__name__,
    )
)
