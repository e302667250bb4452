"""Trace events served by an HTTP endpoint as JSON, fetched with a bounded timeout.

::

    HttpTraceStore("http://localhost:8080/traces/{correlation_id}")
    HttpTraceStore("http://tracing/api/search?cid={correlation_id}", events_path="data.events",
                   type_field="name", sequence_field=None, order_by="timestamp")

``GET`` on the URL (the correlation id inserted, URL-quoted) must answer a JSON list of
events, or a document holding one at ``events_path`` (a dotted path). Each event is a
JSON object; its fields are read at dotted paths too, and a field set to ``None`` is one
the events do not carry. A 404 answer means "no events yet": many trace services know a
correlation id only once its first event is in. Any other failure (a refused connection,
a timeout, a 5xx) raises :class:`~asyncbdd.traces.store.TraceStoreUnavailable` at once.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from asyncbdd.budget import Seconds
from asyncbdd.config import get_settings
from asyncbdd.durations import to_seconds
from asyncbdd.errors import InvalidInput
from asyncbdd.matching import MISSING, field_value, show_value
from asyncbdd.secrets import mask_url, mask_urls_in
from asyncbdd.traces.event import TraceEvent, make_event
from asyncbdd.traces.store import TraceStore, TraceStoreUnavailable

__all__ = ["HttpTraceStore"]

PLACEHOLDER = "{correlation_id}"
_EXCERPT = 200


class HttpTraceStore(TraceStore):
    """An HTTP endpoint that answers the events of a correlation id as JSON.

    :param url_template: the URL, with ``{correlation_id}`` where the id goes.
    :param events_path: where the list of events is in the answer; ``None``: the answer
        is the list.
    :param type_field: where an event's type is (required).
    :param service_field: where its service is, or ``None``.
    :param timestamp_field: where its time is, or ``None``.
    :param sequence_field: where its sequence number is, or ``None``.
    :param attributes_field: where its other attributes are, or ``None``.
    :param headers: request headers (an ``Authorization`` token).
    :param timeout: how long one request may take (seconds, a ``timedelta`` or text);
        default: setting ``asyncbdd.connect_timeout``.
    :param order_by: ``"sequence"`` or ``"timestamp"``; default: the setting.
    """

    def __init__(
        self,
        url_template: str,
        events_path: str | None = None,
        *,
        type_field: str = "event_type",
        service_field: str | None = "service",
        timestamp_field: str | None = "occurred_at",
        sequence_field: str | None = "sequence",
        attributes_field: str | None = "attributes",
        headers: Mapping[str, str] | None = None,
        timeout: Seconds | None = None,
        order_by: str | None = None,
    ) -> None:
        if PLACEHOLDER not in url_template:
            raise InvalidInput(
                f"The trace URL {mask_url(url_template)!r} has no {PLACEHOLDER} placeholder, "
                f"so every scenario would read the same trace. Write it where the id goes, e.g. "
                f"http://localhost:8080/traces/{PLACEHOLDER}."
            )
        self.url_template = url_template
        self.events_path = events_path
        self.fields: Mapping[str, str | None] = {
            "type": type_field,
            "service": service_field,
            "timestamp": timestamp_field,
            "sequence": sequence_field,
            "attributes": attributes_field,
        }
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.timeout = None if timeout is None else to_seconds(timeout)
        self.order_by = order_by

    def url(self, correlation_id: str) -> str:
        """The URL that serves the events of ``correlation_id``."""
        return self.url_template.replace(PLACEHOLDER, urllib.parse.quote(correlation_id, safe=""))

    def events(self, correlation_id: str) -> list[TraceEvent]:
        document = self._get(self.url(correlation_id))
        url = mask_url(self.url(correlation_id))  # as the messages show it
        if document is None:
            return []
        found = document if self.events_path is None else field_value(document, self.events_path)
        if found is MISSING or not isinstance(found, list):
            where = (
                "The answer" if self.events_path is None else f"{self.events_path!r} in the answer"
            )
            raise InvalidInput(
                f"{where} of GET {url} is not a list of trace events: "
                f"{show_value(document, _EXCERPT)}. Give HttpTraceStore the path of the list "
                "with events_path=..., e.g. events_path='events'."
            )
        return [
            self._event(item, f"GET {url}, event {number}") for number, item in enumerate(found, 1)
        ]

    def describe(self) -> str:
        return f"HTTP endpoint {mask_url(self.url_template)}"

    def _get(self, address: str) -> Any:
        """The JSON answer, or ``None`` for a 404."""
        seconds = self.timeout if self.timeout is not None else get_settings().connect_timeout
        url = mask_url(address)  # as the messages show it
        try:
            request = urllib.request.Request(address, headers=self.headers)
            with urllib.request.urlopen(request, timeout=seconds) as response:
                body = response.read()
        except (ValueError, http.client.InvalidURL) as error:  # their texts hold the URL
            raise InvalidInput(
                f"GET {url} cannot be sent: the URL is malformed ({type(error).__name__}). "
                "Write the URL template as http://host:port/path/{correlation_id}."
            ) from None
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            excerpt = error.read().decode("utf-8", "replace")
            raise TraceStoreUnavailable(
                f"GET {url} answered HTTP {error.code} {error.reason}: "
                f"{show_value(excerpt, _EXCERPT)}. Check that the trace service works and "
                "that the URL template is right."
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = mask_urls_in(str(getattr(error, "reason", error)))
            raise TraceStoreUnavailable(
                f"GET {url} failed within {seconds:g} s: {reason}. Check that the trace "
                "service runs at that address (asyncbdd.connect_timeout bounds the wait)."
            ) from None
        try:
            return json.loads(body)
        except ValueError:
            raise InvalidInput(
                f"GET {url} answered something that is not JSON: "
                f"{show_value(body.decode('utf-8', 'replace'), _EXCERPT)}. Point the URL "
                "template at the trace service's JSON API, not at a web page or a login page "
                "in front of it."
            ) from None

    def _event(self, item: object, source: str) -> TraceEvent:
        if not isinstance(item, Mapping):
            raise InvalidInput(
                f"The trace event at {source} is not a JSON object: {show_value(item, _EXCERPT)}."
            )
        values = {
            name: None if path is None else _present(field_value(item, path))
            for name, path in self.fields.items()
        }
        return make_event(
            type=values["type"],
            service=values["service"],
            timestamp=values["timestamp"],
            sequence=values["sequence"],
            attributes=values["attributes"],
            source=source,
        )


def _present(value: object) -> object:
    return None if value is MISSING else value
