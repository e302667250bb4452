"""The demo service's HTTP API: JSON in and out, errors as ``{"error": "..."}``.

========  ===========================  ==============================================
Method    Path                         Answer
========  ===========================  ==============================================
POST      /api/orders                  202 ``{"order_id": ..., "status": "accepted"}``
GET       /api/orders/<id>             200 the order, 404 if it is not stored (yet)
PUT       /api/inventory/<product_id>  200 the stock row, created or reset
GET       /api/inventory/<product_id>  200 the stock row, 404 if unknown
POST      /webhooks                    201 ``{"id": ...}``: calls ``url`` on ``events``
GET       /webhooks                    200 ``{"webhooks": [...]}``, oldest first
GET       /webhooks/<id>               200 the registration, 404 if unknown
DELETE    /webhooks/<id>               200 the registration removed, 404 if unknown
GET       /health                      200 ``{"status": "ok"}``
========  ===========================  ==============================================

A webhook registration is ``{"url": "http://...", "events": ["payment.completed"]}``; see
:mod:`asyncbdd.demo.webhooks` for the calls it brings.

Invalid input gets a 400 whose message names the field; an unexpected error gets a 500
that points to the service log (logger ``asyncbdd.demo``), never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asyncbdd.demo.models import Inventory, Order, Webhook
from asyncbdd.demo.pipeline import OrderRequest
from asyncbdd.demo.validation import (
    INVENTORY_FIELDS,
    ORDER_FIELDS,
    WEBHOOK_FIELDS,
    InvalidInput,
    json_object,
    order_request,
    webhook_registration,
    whole_number,
)

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


class _BadRequest(Exception):
    """The request is invalid beyond its JSON body (a header); the message says why."""


class _ApiHandler(BaseHTTPRequestHandler):
    server: OrderApiServer
    timeout = 5  # seconds a silent client may hold a request thread (and so delay stop())

    def _answer(self) -> None:
        try:
            status, body = self._route()
        except (_BadRequest, InvalidInput) as error:
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
        order = order_request(self._json_object(ORDER_FIELDS))
        self.server.accept(order)
        return HTTPStatus.ACCEPTED, {"order_id": order.order_id, "status": "accepted"}

    def _get_order(self, order_id: str) -> _Reply:
        with self.server.sessions() as session:
            order = session.get(Order, order_id)
            if order is None:
                return HTTPStatus.NOT_FOUND, {"error": f"no order {order_id!r}"}
            return HTTPStatus.OK, _order_json(order)

    def _put_inventory(self, product_id: str) -> _Reply:
        quantity = whole_number(self._json_object(INVENTORY_FIELDS), "quantity", minimum=0)
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

    def _register_webhook(self) -> _Reply:
        registration = webhook_registration(self._json_object(WEBHOOK_FIELDS))
        webhook_id = f"wh-{secrets.token_hex(8)}"
        with self.server.sessions.begin() as session:
            session.add(
                Webhook(id=webhook_id, url=registration.url, events=json.dumps(registration.events))
            )
        logger.info(
            "webhook %s: %s on %s", webhook_id, registration.url, ", ".join(registration.events)
        )
        return HTTPStatus.CREATED, {"id": webhook_id}

    def _list_webhooks(self) -> _Reply:
        with self.server.sessions() as session:
            webhooks = session.scalars(select(Webhook).order_by(Webhook.created_at, Webhook.id))
            return HTTPStatus.OK, {"webhooks": [_webhook_json(webhook) for webhook in webhooks]}

    def _get_webhook(self, webhook_id: str) -> _Reply:
        with self.server.sessions() as session:
            webhook = session.get(Webhook, webhook_id)
            if webhook is None:
                return HTTPStatus.NOT_FOUND, {"error": f"no webhook {webhook_id!r}"}
            return HTTPStatus.OK, _webhook_json(webhook)

    def _delete_webhook(self, webhook_id: str) -> _Reply:
        with self.server.sessions.begin() as session:
            webhook = session.get(Webhook, webhook_id)
            if webhook is None:
                return HTTPStatus.NOT_FOUND, {"error": f"no webhook {webhook_id!r}"}
            reply = _webhook_json(webhook)
            session.delete(webhook)
        logger.info("webhook %s: removed", webhook_id)
        return HTTPStatus.OK, reply

    def _json_object(self, fields: tuple[str, ...]) -> dict[str, object]:
        """Read the body as a JSON object with no fields other than ``fields``."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdecimal():
            raise _BadRequest(f"Content-Length must be a whole number, got {length!r}")
        return json_object(self.rfile.read(int(length)), fields, what="the request body")

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
    (
        re.compile(r"/webhooks"),
        {"GET": _ApiHandler._list_webhooks, "POST": _ApiHandler._register_webhook},
    ),
    (
        re.compile(r"/webhooks/([^/]+)"),
        {"GET": _ApiHandler._get_webhook, "DELETE": _ApiHandler._delete_webhook},
    ),
]


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


def _webhook_json(webhook: Webhook) -> dict[str, object]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": json.loads(webhook.events),
        "created_at": webhook.created_at.isoformat(),
    }
