"""Validation of incoming JSON, shared by the HTTP API and the Kafka input.

Both transports take an order as the same JSON object and check it the same way; what is
invalid raises :class:`InvalidInput`, whose message names the field and says what is
wrong (the HTTP API answers it with a 400, the Kafka input logs it and skips the message).
Webhook registrations come over HTTP only, and are checked the same way.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from asyncbdd.demo.pipeline import OrderRequest
from asyncbdd.demo.webhooks import WEBHOOK_EVENTS, WebhookRegistration

__all__ = [
    "INVENTORY_FIELDS",
    "MAX_INTEGER",
    "MAX_URL_LENGTH",
    "ORDER_FIELDS",
    "WEBHOOK_FIELDS",
    "InvalidInput",
    "json_object",
    "order_request",
    "webhook_registration",
    "whole_number",
]

MAX_INTEGER = 2**31 - 1
"""The largest value of an SQL INTEGER column, so the largest quantity."""

ORDER_FIELDS = ("order_id", "product_id", "quantity", "amount", "correlation_id")
"""The fields an order may have."""

INVENTORY_FIELDS = ("quantity",)
"""The fields a stock row may have."""

WEBHOOK_FIELDS = ("url", "events")
"""The fields of a webhook registration."""

MAX_URL_LENGTH = 2048
"""The longest webhook URL accepted, in characters."""


class InvalidInput(ValueError):
    """A JSON body is invalid; the message names the field and says why."""


def json_object(payload: bytes | str, fields: tuple[str, ...], *, what: str) -> dict[str, object]:
    """Parse ``payload`` as a JSON object that has no fields other than ``fields``.

    :param what: names the payload in error messages, such as ``"the request body"``.
    :raises InvalidInput: it is not JSON, not an object, or has an unknown field.
    """
    try:
        body = json.loads(payload)
    except ValueError as error:
        raise InvalidInput(f"{what} is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; expected: {', '.join(fields)}")
    return body


def order_request(
    body: Mapping[str, object],
    *,
    require_order_id: bool = False,
    correlation_id: str | None = None,
) -> OrderRequest:
    """Check an order's fields (see :data:`ORDER_FIELDS`) and return the order.

    :param require_order_id: reject an order without ``order_id``; otherwise one is
        generated as ``ord-<16 hex digits>``.
    :param correlation_id: takes precedence over the body's ``correlation_id`` (a
        transport may carry it outside the body, as a Kafka header).
    :raises InvalidInput: a field is missing or has a wrong type or value.
    """
    order_id = _optional_text(body, "order_id")
    if order_id is None:
        if require_order_id:
            raise InvalidInput("order_id is required")
        order_id = f"ord-{secrets.token_hex(8)}"
    return OrderRequest(
        order_id=order_id,
        product_id=_required_text(body, "product_id"),
        quantity=whole_number(body, "quantity", minimum=1),
        amount=_amount(body, "amount"),
        correlation_id=correlation_id or _optional_text(body, "correlation_id"),
    )


def webhook_registration(body: Mapping[str, object]) -> WebhookRegistration:
    """Check a webhook registration's fields (see :data:`WEBHOOK_FIELDS`) and return it.

    ``url`` must be an absolute ``http://`` or ``https://`` URL with a host; ``events`` a
    non-empty array of event names from :data:`~asyncbdd.demo.webhooks.WEBHOOK_EVENTS`
    (a name given twice counts once).

    :raises InvalidInput: a field is missing or has a wrong type or value.
    """
    return WebhookRegistration(url=_webhook_url(body, "url"), events=_event_names(body, "events"))


def whole_number(body: Mapping[str, object], field: str, *, minimum: int) -> int:
    """Return ``body[field]``, which must be an integer from ``minimum`` to :data:`MAX_INTEGER`.

    :raises InvalidInput: it is missing, not an integer (``true`` is not), or out of range.
    """
    value = body.get(field)
    if value is None:
        raise InvalidInput(f"{field} is required")
    # bool is an int in Python, but true is not a quantity
    if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_INTEGER:
        return value
    raise InvalidInput(
        f"{field} must be an integer from {minimum} to {MAX_INTEGER}, got {json.dumps(value)}"
    )


def _required_text(body: Mapping[str, object], field: str) -> str:
    value = _optional_text(body, field)
    if value is None:
        raise InvalidInput(f"{field} is required")
    return value


def _optional_text(body: Mapping[str, object], field: str) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise InvalidInput(f"{field} must be a non-empty string, got {json.dumps(value)}")


def _amount(body: Mapping[str, object], field: str) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidInput(f"{field} must be a number >= 0, got {json.dumps(value)}")
    return float(value)


def _webhook_url(body: Mapping[str, object], field: str) -> str:
    url = _required_text(body, field)
    problem = None
    if len(url) > MAX_URL_LENGTH:
        problem = f"is longer than {MAX_URL_LENGTH} characters"
    elif not url.isascii():
        problem = "has characters other than ASCII (percent-encode them)"
    elif any(character.isspace() or not character.isprintable() for character in url):
        problem = "contains whitespace or control characters"
    else:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError on a malformed port)
        except ValueError as error:
            problem = f"is malformed ({error})"
        else:
            if parts.scheme not in ("http", "https"):
                problem = "must start with http:// or https://"
            elif not parts.hostname:
                problem = "has no host"
    if problem is None:
        return url
    raise InvalidInput(
        f"{field} {problem}; expected an absolute http:// or https:// URL such as "
        f'"http://127.0.0.1:8080/hooks", got {json.dumps(url)}'
    )


def _event_names(body: Mapping[str, object], field: str) -> tuple[str, ...]:
    value = body.get(field)
    valid = ", ".join(WEBHOOK_EVENTS)
    if value is None:
        raise InvalidInput(f"{field} is required: a non-empty array of event names ({valid})")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f"{field} must be a non-empty array of event names ({valid}), got {json.dumps(value)}"
        )
    for name in value:
        if name not in WEBHOOK_EVENTS:
            raise InvalidInput(
                f"unknown event {json.dumps(name)} in {field}; valid events: {valid}"
            )
    return tuple(dict.fromkeys(value))
