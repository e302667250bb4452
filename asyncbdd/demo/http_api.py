"""The demo service's HTTP API: JSON in and out, errors as ``{"error": "..."}``.

========  ===========================  ==============================================
Method    Path                         Answer
========  ===========================  ==============================================
POST      /api/orders                  202 ``{"order_id": ..., "status": "accepted"}``
GET       /api/orders/<id>             200 the order, 404 if it is not stored (yet)
PUT       /api/inventory/<product_id>  200 the stock row, created or reset
GET       /api/inventory/<product_id>  200 the stock row, 404 if unknown
GET       /health                      200 ``{"status": "ok"}``
========  ===========================  ==============================================

Invalid input gets a 400 whose message names the field; an unexpected error gets a 500
that points to the service log (logger ``asyncbdd.demo``), never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from asyncbdd.demo.models import Inventory, Order
from asyncbdd.demo.pipeline import OrderRequest

__all__ = ["OrderApiServer"]

logger = logging.getLogger("asyncbdd.demo")


class OrderApiServer(ThreadingHTTPServer):
    """Serves the order API, one thread per request.

    :param address: ``(host, port)`` to listen on; port 0 picks a free port.
    :param sessions: opens sessions on the service's database.
    :param accept: takes a validated order for asynchronous processing.
    """

    daemon_threads = False  # so that server_close() waits for the requests in progress

    def __init__(
        self,
        address: tuple[str, int],
        sessions: sessionmaker[Session],
        accept: Callable[[OrderRequest], None],
    ) -> None:
        super().__init__(address, _ApiHandler)
        self.sessions = sessions
        self.accept = accept

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection instead of printing its traceback to stderr."""
        logger.debug("HTTP connection from %s failed", client_address, exc_info=True)


_Reply = tuple[HTTPStatus, dict[str, object]]
_MAX_INTEGER = 2**31 - 1  # the largest value of an SQL INTEGER column
_ORDER_FIELDS = ("order_id", "product_id", "quantity", "amount", "correlation_id")
_INVENTORY_FIELDS = ("quantity",)


class _BadRequest(Exception):
    """The request is invalid; the message says which field and why."""


class _ApiHandler(BaseHTTPRequestHandler):
    server: OrderApiServer
    timeout = 5  # seconds a silent client may hold a request thread (and so delay stop())

    def _answer(self) -> None:
        try:
            status, body = self._route()
        except _BadRequest as error:
            status, body = HTTPStatus.BAD_REQUEST, {"error": str(error)}
        except Exception:
            logger.exception("%s %s failed", self.command, self.path)
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            body = {"error": "internal server error; see the service log"}
        self._send(status, body)

    # http.server dispatches on these names; every method gets the same JSON routing
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol errors (malformed request, unsupported method) in JSON too."""
        self.close_connection = True
        self._send(HTTPStatus(code), {"error": message or HTTPStatus(code).phrase})

    def log_message(self, format: str, *args: Any) -> None:
        """Send the request log to logger ``asyncbdd.demo`` (DEBUG), not to stderr."""
        logger.debug("%s - " + format, self.address_string(), *args)

    def _route(self) -> _Reply:
        path = urlsplit(self.path).path
        for pattern, actions in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            action = actions.get(self.command)
            if action is None:
                allowed = ", ".join(actions)
                return HTTPStatus.METHOD_NOT_ALLOWED, {
                    "error": f"{self.command} is not allowed on {path}; allowed: {allowed}"
                }
            return action(self, *(unquote(part) for part in match.groups()))
        return HTTPStatus.NOT_FOUND, {"error": f"no such resource: {path}"}

    def _health(self) -> _Reply:
        return HTTPStatus.OK, {"status": "ok"}

    def _create_order(self) -> _Reply:
        order = _order_request(self._json_object(_ORDER_FIELDS))
        self.server.accept(order)
        return HTTPStatus.ACCEPTED, {"order_id": order.order_id, "status": "accepted"}

    def _get_order(self, order_id: str) -> _Reply:
        with self.server.sessions() as session:
            order = session.get(Order, order_id)
            if order is None:
                return HTTPStatus.NOT_FOUND, {"error": f"no order {order_id!r}"}
            return HTTPStatus.OK, _order_json(order)

    def _put_inventory(self, product_id: str) -> _Reply:
        quantity = _integer(self._json_object(_INVENTORY_FIELDS), "quantity", minimum=0)
        with self.server.sessions.begin() as session:
            stock = session.get(Inventory, product_id)
            if stock is None:
                stock = Inventory(product_id=product_id, quantity=quantity)
                session.add(stock)
            else:
                stock.quantity = quantity
            session.flush()
            reply = _inventory_json(stock)
        return HTTPStatus.OK, reply

    def _get_inventory(self, product_id: str) -> _Reply:
        with self.server.sessions() as session:
            stock = session.get(Inventory, product_id)
            if stock is None:
                return HTTPStatus.NOT_FOUND, {"error": f"no inventory for product {product_id!r}"}
            return HTTPStatus.OK, _inventory_json(stock)

    def _json_object(self, fields: tuple[str, ...]) -> dict[str, object]:
        """Read the body as a JSON object with no fields other than ``fields``."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdecimal():
            raise _BadRequest(f"Content-Length must be a whole number, got {length!r}")
        try:
            body = json.loads(self.rfile.read(int(length)))
        except ValueError as error:
            raise _BadRequest(f"the request body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise _BadRequest("the request body must be a JSON object")
        unknown = sorted(set(body) - set(fields))
        if unknown:
            raise _BadRequest(f"unknown field {unknown[0]!r}; expected: {', '.join(fields)}")
        return body

    def _send(self, status: HTTPStatus, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_ROUTES: list[tuple[re.Pattern[str], dict[str, Callable[..., _Reply]]]] = [
    (re.compile(r"/health"), {"GET": _ApiHandler._health}),
    (re.compile(r"/api/orders"), {"POST": _ApiHandler._create_order}),
    (re.compile(r"/api/orders/([^/]+)"), {"GET": _ApiHandler._get_order}),
    (
        re.compile(r"/api/inventory/([^/]+)"),
        {"GET": _ApiHandler._get_inventory, "PUT": _ApiHandler._put_inventory},
    ),
]


def _order_request(body: dict[str, object]) -> OrderRequest:
    return OrderRequest(
        order_id=_optional_text(body, "order_id") or f"ord-{secrets.token_hex(8)}",
        product_id=_required_text(body, "product_id"),
        quantity=_integer(body, "quantity", minimum=1),
        amount=_amount(body, "amount"),
        correlation_id=_optional_text(body, "correlation_id"),
    )


def _order_json(order: Order) -> dict[str, object]:
    return {
        "order_id": order.id,
        "product_id": order.product_id,
        "quantity": order.quantity,
        "status": order.status,
        "amount": order.amount,
        "correlation_id": order.correlation_id,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


def _inventory_json(stock: Inventory) -> dict[str, object]:
    return {
        "product_id": stock.product_id,
        "quantity": stock.quantity,
        "updated_at": stock.updated_at.isoformat(),
    }


def _required_text(body: dict[str, object], field: str) -> str:
    value = _optional_text(body, field)
    if value is None:
        raise _BadRequest(f"{field} is required")
    return value


def _optional_text(body: dict[str, object], field: str) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise _BadRequest(f"{field} must be a non-empty string, got {json.dumps(value)}")


def _integer(body: dict[str, object], field: str, *, minimum: int) -> int:
    value = body.get(field)
    if value is None:
        raise _BadRequest(f"{field} is required")
    # bool is an int in Python, but true is not a quantity
    if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= _MAX_INTEGER:
        return value
    raise _BadRequest(
        f"{field} must be an integer from {minimum} to {_MAX_INTEGER}, got {json.dumps(value)}"
    )


def _amount(body: dict[str, object], field: str) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise _BadRequest(f"{field} must be a number >= 0, got {json.dumps(value)}")
    return float(value)
