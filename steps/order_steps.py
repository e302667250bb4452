"""The demo's own phrases: how a customer and the warehouse act on the order service.

Each step drives the service only through its HTTP API, as a real client would, and
records what later steps refer to (the order id) in the scenario's values. An accepted
order is also recorded as the evidence "order accepted" on channel ``http``, so that a
check across channels can place it ("these happen in order"). A webhook registration
lasts as long as the scenario that made it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from asyncbdd.scenario import current_scenario
from asyncbdd.steps.decorators import given, when
from asyncbdd.traces import record_evidence
from asyncbdd.webhooks import webhook_url


@given('product "{product_id}" has {quantity:d} in stock')
def step_product_has_stock(context: Any, product_id: str, quantity: int) -> None:
    """Sets the product's stock through the service's inventory API."""
    _call(context, "PUT", f"/api/inventory/{product_id}", {"quantity": quantity})


@when('a customer orders {quantity:d} of product "{product_id}"')
def step_customer_orders(context: Any, quantity: int, product_id: str) -> None:
    """Places an order through the service's API, as a customer would."""
    _place_order(context, {"product_id": product_id, "quantity": quantity})


@when('a customer orders {quantity:d} of product "{product_id}" for {amount:g}')
def step_customer_orders_for(context: Any, quantity: int, product_id: str, amount: float) -> None:
    """Places an order for the given amount."""
    _place_order(context, {"product_id": product_id, "quantity": quantity, "amount": amount})


@when(
    'a customer places order "{order_id}" for {quantity:d} of product "{product_id}" at {amount:g}'
)
def step_customer_places_order(
    context: Any, order_id: str, quantity: int, product_id: str, amount: float
) -> None:
    """Places an order under the given order id."""
    order = {"order_id": order_id, "product_id": product_id, "quantity": quantity}
    _place_order(context, {**order, "amount": amount})


@given('the order service calls the "{receiver}" webhook on "{event}"')
def step_service_calls_webhook(context: Any, receiver: str, event: str) -> None:
    """Registers the receiver's URL with the service for the event, for this scenario."""
    registered = _call(
        context, "POST", "/webhooks", {"url": webhook_url(receiver), "events": [event]}
    )
    # Registrations outlive the scenario in the service; its receiver does not.
    current_scenario().on_end(
        lambda: _call(context, "DELETE", f"/webhooks/{registered['id']}", None)
    )


def _place_order(context: Any, order: dict[str, Any]) -> None:
    scenario = current_scenario()
    body = {**order, "correlation_id": scenario.correlation_id}
    accepted = _call(context, "POST", "/api/orders", body)
    scenario.values["order_id"] = accepted["order_id"]
    record_evidence("http", "order accepted", attributes=accepted)


def _call(context: Any, method: str, path: str, body: dict[str, Any] | None) -> Any:
    request = urllib.request.Request(
        context.order_service_url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)
