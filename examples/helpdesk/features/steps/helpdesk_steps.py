"""The helpdesk's own phrase, and asyncbdd's vocabulary."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from behave import when

from asyncbdd.steps import *  # noqa: F403


@when('a customer opens a "{priority}" ticket "{title}"')
@when('a customer opens an "{priority}" ticket "{title}"')
def step_open_ticket(context: Any, priority: str, title: str) -> None:
    state = context.asyncbdd  # the running scenario
    body = {
        "title": title,
        "priority": priority,
        "callback_url": state.expand("{webhook_url:customer}"),
    }
    request = urllib.request.Request(
        f"{context.helpdesk_url}/tickets",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Request-Id": state.correlation_id},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        ticket = json.load(response)
    state.values["ticket_id"] = ticket["id"]  # "the ticket status" and {ticket_id} read it
