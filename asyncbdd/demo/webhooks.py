"""The demo service's webhook calls: every URL registered for ``payment.completed`` is called
once the order is paid.

Registrations come in through ``POST /webhooks`` (see :mod:`asyncbdd.demo.http_api`) and
live in the ``webhooks`` table. Where in the pipeline: an ``after_payment`` stage of
:class:`~asyncbdd.demo.pipeline.OrderPipeline` (after the payment and the stock reservation,
before the SQS messages) looks the registrations up and hands one call per distinct URL to
:data:`SENDER_THREADS` sender threads, so a slow or dead receiver never holds up the orders.

Each call is ``POST <url>`` with ``Content-Type: application/json`` and the body
``{"event": "payment.completed", "order_id": ..., "amount": ..., "status": "completed"}``
(``amount`` is the order's, ``null`` when it has none), the header ``X-Correlation-Id``
when the order has a correlation id, and, when the service has a webhook secret,
``X-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>``. A 5xx answer or
a connection error (refused, reset, timed out) is tried again :data:`RETRY_DELAY` seconds
later, up to :data:`ATTEMPTS` attempts in all; any other answer is final. Connections are
direct (no proxy) and redirects are not followed. Every failure is logged with the order
id and the URL (logger ``asyncbdd.demo``, WARNING, and ERROR once the attempts are spent).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import socket
import threading
from contextlib import suppress
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asyncbdd.demo.faults import Fault
from asyncbdd.demo.models import Webhook
from asyncbdd.demo.pipeline import OrderJob

__all__ = [
    "ATTEMPTS",
    "PAYMENT_COMPLETED",
    "RETRY_DELAY",
    "SENDER_THREADS",
    "WEBHOOK_EVENTS",
    "WebhookRegistration",
    "WebhookSender",
]

logger = logging.getLogger("asyncbdd.demo")

PAYMENT_COMPLETED = "payment.completed"
"""The event of a paid order."""

WEBHOOK_EVENTS = (PAYMENT_COMPLETED,)
"""The events a webhook may be registered for."""

ATTEMPTS = 3
"""How many times a call is tried, in all, when it gets a 5xx or no answer."""

RETRY_DELAY = 0.1
"""Seconds between two attempts of a call."""

SENDER_THREADS = 4
"""How many calls may be in progress at once."""


@dataclass(frozen=True)
class WebhookRegistration:
    """A validated ``POST /webhooks`` body: a URL and the events it is called on."""

    url: str
    events: tuple[str, ...]


class WebhookSender:
    """Calls the registered webhooks of paid orders from its own threads; :meth:`close` it
    after.

    :param sessions: opens sessions on the database that holds the registrations.
    :param secret: signs each body (``X-Signature``) with this key; ``None`` sends no
        signature.
    :param timeout: seconds an attempt may take to connect, and then to get each answer.
    """

    def __init__(
        self, sessions: sessionmaker[Session], *, secret: str | None, timeout: float
    ) -> None:
        self._sessions = sessions
        self._secret = None if secret is None else secret.encode()
        self._timeout = timeout
        self._calls: queue.Queue[_Call | None] = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards _in_flight against close()
        self._in_flight: set[HTTPConnection] = set()
        self._threads = [
            threading.Thread(target=self._run, name=f"asyncbdd-demo-webhook-{number}", daemon=True)
            for number in range(1, SENDER_THREADS + 1)
        ]

    def start(self) -> None:
        """Start the sender threads."""
        for thread in self._threads:
            thread.start()

    def after_payment(self, job: OrderJob) -> bool:
        """Hand a ``payment.completed`` call per registered URL to the senders; returns at
        once."""
        order = job.order
        if Fault.SKIP_WEBHOOK in job.faults:
            logger.info(
                "order %s: webhooks skipped by fault %s", order.order_id, Fault.SKIP_WEBHOOK.value
            )
            return True
        urls = self._urls_for(PAYMENT_COMPLETED)
        if not urls:
            return True
        amount: float | int | None = order.amount
        if amount is not None and Fault.WRONG_WEBHOOK_AMOUNT in job.faults:
            amount = round(amount * 100)
            logger.info(
                "order %s: webhook amount in cents by fault %s",
                order.order_id,
                Fault.WRONG_WEBHOOK_AMOUNT.value,
            )
        body = json.dumps(
            {
                "event": PAYMENT_COMPLETED,
                "order_id": order.order_id,
                "amount": amount,
                "status": "completed",
            }
        ).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "asyncbdd-demo"}
        if order.correlation_id is not None:
            headers["X-Correlation-Id"] = order.correlation_id
        if self._secret is not None:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["X-Signature"] = f"sha256={digest}"
        for url in urls:
            self._calls.put(_Call(order.order_id, PAYMENT_COMPLETED, url, body, headers))
        return True

    def close(self) -> None:
        """Drop the calls not made yet, interrupt those in progress and their retry delays,
        and wait for the sender threads. Nothing is sent after this returns.

        Only a connection still being established can hold it up, at most the timeout.
        """
        with self._lock:
            self._stopping.set()
            in_flight = list(self._in_flight)
        for connection in in_flight:
            if connection.sock is not None:
                with suppress(OSError):  # already closed by its sender
                    connection.sock.shutdown(socket.SHUT_RDWR)
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join()

    def _urls_for(self, event: str) -> list[str]:
        """The distinct URLs registered for ``event``, oldest registration first."""
        with self._sessions() as session:
            webhooks = session.scalars(select(Webhook).order_by(Webhook.created_at, Webhook.id))
            urls = [webhook.url for webhook in webhooks if event in json.loads(webhook.events)]
        return list(dict.fromkeys(urls))

    def _run(self) -> None:
        while (call := self._calls.get()) is not None and not self._stopping.is_set():
            try:
                self._deliver(call)
            except Exception:
                logger.exception("order %s: webhook call to %s crashed", call.order_id, call.url)

    def _deliver(self, call: _Call) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            outcome = self._attempt(call)
            if outcome is None:  # closing
                return
            if isinstance(outcome, int) and outcome < 500:
                level = logging.DEBUG if 200 <= outcome < 300 else logging.WARNING
                logger.log(level, "%s: answered %d", call, outcome)
                return
            what = f"answered {outcome}" if isinstance(outcome, int) else f"failed: {outcome}"
            if isinstance(outcome, ValueError):  # a header or URL http.client refuses
                logger.error("%s %s; not retried", call, what)
                return
            if attempt == ATTEMPTS:
                logger.error("%s %s; gave up after %d attempts", call, what, ATTEMPTS)
                return
            logger.warning(
                "%s %s (attempt %d of %d); retrying in %g s",
                call,
                what,
                attempt,
                ATTEMPTS,
                RETRY_DELAY,
            )
            if self._stopping.wait(RETRY_DELAY):
                return

    def _attempt(self, call: _Call) -> int | Exception | None:
        """Make one attempt: the answer's status, the error, or None when closing."""
        parts = urlsplit(call.url)
        https = parts.scheme == "https"
        connection = (HTTPSConnection if https else HTTPConnection)(
            parts.hostname or "", parts.port or (443 if https else 80), timeout=self._timeout
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.connect()
            with self._lock:
                if self._stopping.is_set():
                    return None
                self._in_flight.add(connection)
            try:
                # UTF-8, as the Kafka header a correlation id may come from
                headers = {name: value.encode() for name, value in call.headers.items()}
                connection.request("POST", target, body=call.body, headers=headers)
                response = connection.getresponse()
                response.read()
                return response.status
            finally:
                with self._lock:
                    self._in_flight.discard(connection)
        except (OSError, HTTPException, ValueError) as error:
            return None if self._stopping.is_set() else error
        finally:
            connection.close()


@dataclass(frozen=True)
class _Call:
    """One webhook call to make."""

    order_id: str
    event: str
    url: str
    body: bytes
    headers: dict[str, str]

    def __str__(self) -> str:
        return f"order {self.order_id}: webhook {self.event} to {self.url}"
