"""What the helpdesk's phrases mean, and the helpdesk itself, started for the run."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from helpdesk import create_app
from werkzeug.serving import make_server

from asyncbdd import get_settings, set_settings, sql_probe
from asyncbdd.hooks import install_hooks
from asyncbdd.queues import SqsQueue, queue_named
from asyncbdd.traces import SqlTraceStore, register_trace_store


def before_all(context: Any) -> None:
    context.scratch = tempfile.TemporaryDirectory(prefix="helpdesk-")
    database_url = f"sqlite:///{Path(context.scratch.name) / 'helpdesk.db'}"
    set_settings(get_settings().replace(database_url=database_url))

    sql_probe("the ticket status", "SELECT status FROM tickets WHERE id = :ticket_id")
    register_trace_store(
        "the audit trail",
        SqlTraceStore(
            "audit_log",
            columns={
                "correlation_id": "request_id",
                "type": "action",
                "timestamp": "at",
                "sequence": "id",
                "attributes": "details",
                "service": None,
            },
        ),
        replace=True,
    )

    # The helpdesk sends to the queue asyncbdd reads: the embedded SQS, unless configured.
    assignments = queue_named("assignments")
    assert isinstance(assignments, SqsQueue)
    assignments.open()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # boto3 signs every request
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SQS_ENDPOINT": assignments.client.meta.endpoint_url,
            "SQS_REGION": assignments.client.meta.region_name,
            "ASSIGNMENTS_QUEUE_URL": assignments.url,
        }
    )
    context.helpdesk = app
    context.server = make_server("127.0.0.1", 0, app, threaded=True)
    context.helpdesk_url = f"http://127.0.0.1:{context.server.server_port}"
    threading.Thread(target=context.server.serve_forever, daemon=True).start()


def after_all(context: Any) -> None:
    context.server.shutdown()
    context.helpdesk.extensions["worker"].stop()
    context.scratch.cleanup()


install_hooks(globals())
