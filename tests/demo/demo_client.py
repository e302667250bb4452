"""Talking to the demo service as its tests do: JSON over HTTP, and a child Python."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import asyncbdd
from asyncbdd.demo import OrderService
from asyncbdd.wait import wait_until

FAST_JITTER = (0.001, 0.005)
"""Processing delays short enough for tests, long enough to keep the steps apart."""

TIMEOUT = 10.0
"""Seconds any single wait of a test may take before it fails."""

ENDED = ("shipped", "failed")
"""The statuses an order ends in."""

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    method: str, url: str, body: object = None, *, raw: bytes | None = None
) -> tuple[int, Any]:
    """Send one JSON request; return the status and the decoded JSON answer."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with _no_proxy.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def set_stock(service: OrderService, product_id: str, quantity: int) -> None:
    """Create or reset the stock of a product."""
    status, body = call("PUT", f"{service.url}/api/inventory/{product_id}", {"quantity": quantity})
    assert (status, body["quantity"]) == (200, quantity)


def stock_of(service: OrderService, product_id: str) -> int:
    """The stock of a product."""
    status, body = call("GET", f"{service.url}/api/inventory/{product_id}")
    assert status == 200, body
    quantity: int = body["quantity"]
    return quantity


def place_order(service: OrderService, **order: object) -> str:
    """Post an order; return its id."""
    status, body = call("POST", f"{service.url}/api/orders", order)
    assert (status, body["status"]) == (202, "accepted"), body
    order_id: str = body["order_id"]
    return order_id


def wait_for_status(service: OrderService, order_id: str, status: str) -> dict[str, Any]:
    """Wait until the order has ``status``; fail at once if it ends in another one."""

    def order() -> dict[str, Any] | None:
        code, body = call("GET", f"{service.url}/api/orders/{order_id}")
        return body if code == 200 else None

    found = wait_until(
        order,
        lambda body: body is not None and body["status"] == status,
        timeout=TIMEOUT,
        fail_if=lambda body: body is not None and body["status"] in set(ENDED) - {status},
        description=f"order {order_id} is {status}",
    )
    assert found is not None
    return found


def transitions(caplog: pytest.LogCaptureFixture, order_id: str) -> list[str]:
    """What the service logged for an order: its statuses, or dropped / ignored."""
    prefix = f"order {order_id}: "
    return [
        message.removeprefix(prefix).split()[0]
        for message in caplog.messages
        if message.startswith(prefix)
    ]


def child_environment() -> dict[str, str]:
    """This environment, with asyncbdd importable in a child Python."""
    project = str(Path(asyncbdd.__file__).resolve().parents[1])
    paths = [project, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
