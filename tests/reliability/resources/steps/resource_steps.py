"""What the resource checks' scenarios do besides the library's steps.

"The system under test is poked" plays a service: in one go it records a trace event
and bumps a counter in the database, calls the scenario's "done" webhook receiver, and
records the answer as evidence on channel ``http``. "The run starts waiting" tells a
parent process watching the output that the next step is the long wait.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from typing import Any

from behave import when
from sqlalchemy import text

from asyncbdd.database import connect
from asyncbdd.scenario import current_scenario
from asyncbdd.traces import record_evidence
from asyncbdd.webhooks import webhook_url

WAITING_MARKER = "resources: the run starts waiting"


@when("the system under test is poked")
def step_system_is_poked(context: Any) -> None:
    correlation_id = current_scenario().correlation_id
    with connect(purpose="record a poke") as connection:
        connection.execute(text("UPDATE pokes SET count = count + 1 WHERE id = 1"))
        connection.execute(
            text(
                "INSERT INTO trace_events (correlation_id, sequence, event_type, service,"
                " occurred_at) VALUES (:correlation_id, 1, 'poked', 'resources', :at)"
            ),
            {"correlation_id": correlation_id, "at": datetime.now(timezone.utc).isoformat()},
        )
    request = urllib.request.Request(
        webhook_url("done"),
        data=json.dumps({"correlation_id": correlation_id}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
    record_evidence("http", "poke answered")


@when("the run starts waiting")
def step_run_starts_waiting(context: Any) -> None:
    print(WAITING_MARKER, flush=True)
