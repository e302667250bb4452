"""The helpdesk service: a Flask app factory and its worker."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any

import boto3
from flask import Flask, abort, jsonify, request
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
    update,
)

logger = logging.getLogger(__name__)
metadata = MetaData()
tickets = Table(
    "tickets",
    metadata,
    Column("id", String, primary_key=True),
    Column("title", String, nullable=False),
    Column("priority", String, nullable=False),
    Column("status", String, nullable=False),
    Column("agent", String),
)
agents = Table(
    "agents",
    metadata,
    Column("name", String, primary_key=True),
    Column("open_tickets", Integer, nullable=False),
)
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String, nullable=False),
    Column("action", String, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("details", Text),
)


def create_app(config: dict[str, Any]) -> Flask:
    """The app, configured by ``DATABASE_URL``, ``SQS_ENDPOINT``, ``SQS_REGION`` and
    ``ASSIGNMENTS_QUEUE_URL``; its worker starts with it (``app.extensions["worker"]``)."""
    app = Flask("helpdesk")
    app.config.update(config)
    engine = create_engine(app.config["DATABASE_URL"])
    metadata.create_all(engine)
    sqs = boto3.client(
        "sqs", endpoint_url=app.config["SQS_ENDPOINT"], region_name=app.config["SQS_REGION"]
    )
    worker = Worker(engine, sqs, app.config["ASSIGNMENTS_QUEUE_URL"])
    app.extensions["worker"] = worker

    @app.post("/tickets")
    def open_ticket() -> Any:
        body = request.get_json(silent=True) or {}
        if not body.get("title"):
            abort(400, "a ticket needs a title")
        ticket = {
            "id": f"T-{uuid.uuid4().hex[:6]}",
            "title": body["title"],
            "priority": body.get("priority", "normal"),
            "status": "new",
        }
        request_id = request.headers.get("X-Request-Id", uuid.uuid4().hex)
        with engine.begin() as connection:
            connection.execute(insert(tickets).values(**ticket))
            _audit(connection, request_id, "ticket.opened", ticket_id=ticket["id"])
        worker.submit(ticket["id"], request_id, body.get("callback_url"))
        return jsonify(ticket), 201

    @app.get("/tickets/<ticket_id>")
    def show_ticket(ticket_id: str) -> Any:
        with engine.connect() as connection:
            row = connection.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        if row is None:
            abort(404)
        return jsonify(dict(row._mapping))

    return app


class Worker:
    """Triages tickets one at a time, in a thread of its own."""

    def __init__(self, engine: Engine, sqs: Any, queue_url: str) -> None:
        self.engine, self.sqs, self.queue_url = engine, sqs, queue_url
        self.jobs: queue.Queue[tuple[str, str, str | None] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="helpdesk-worker", daemon=True)
        self.thread.start()

    def submit(self, ticket_id: str, request_id: str, callback_url: str | None) -> None:
        self.jobs.put((ticket_id, request_id, callback_url))

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                self._triage(*job)
            except Exception:  # one ticket's failure must not stop the worker
                logger.exception("triaging ticket %s failed", job[0])

    def _triage(self, ticket_id: str, request_id: str, callback_url: str | None) -> None:
        with self.engine.begin() as connection:
            agent = connection.execute(
                select(agents.c.name).order_by(agents.c.open_tickets, agents.c.name).limit(1)
            ).scalar()
            _audit(connection, request_id, "ticket.triaged", ticket_id=ticket_id)
            if agent is None:
                connection.execute(
                    update(tickets).where(tickets.c.id == ticket_id).values(status="unassigned")
                )
                return
            connection.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id)
                .values(status="assigned", agent=agent)
            )
            connection.execute(
                update(agents)
                .where(agents.c.name == agent)
                .values(open_tickets=agents.c.open_tickets + 1)
            )
            _audit(connection, request_id, "ticket.assigned", ticket_id=ticket_id, agent=agent)
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps({"ticket_id": ticket_id, "agent": agent}),
            MessageAttributes={"request_id": {"DataType": "String", "StringValue": request_id}},
        )
        if callback_url:
            call = urllib.request.Request(
                callback_url,
                data=json.dumps({"ticket_id": ticket_id, "status": "assigned"}).encode(),
                headers={"Content-Type": "application/json", "X-Request-Id": request_id},
                method="POST",
            )
            with urllib.request.urlopen(call, timeout=5):
                pass
        with self.engine.begin() as connection:
            _audit(connection, request_id, "customer.notified", ticket_id=ticket_id)


def _audit(connection: Any, request_id: str, action: str, **details: object) -> None:
    connection.execute(
        insert(audit_log).values(
            request_id=request_id,
            action=action,
            at=datetime.now(timezone.utc),
            details=json.dumps(details),
        )
    )
