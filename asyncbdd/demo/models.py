"""The demo service's tables: orders, inventory, webhook registrations and trace events
(SQLAlchemy 2.x typed declarative).

Timestamps are timezone-aware UTC on every backend, including SQLite, which stores them
without an offset.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import DateTime, Dialect, Engine, Index, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "Inventory",
    "Order",
    "OrderStatus",
    "TraceEvent",
    "Webhook",
    "create_schema",
]


class OrderStatus(str, Enum):
    """The values of ``orders.status``; an order ends ``shipped`` or ``failed``."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    FAILED = "failed"


def create_schema(engine: Engine) -> None:
    """Create the demo tables that do not exist yet."""
    Base.metadata.create_all(engine)


class _UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored and returned as timezone-aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing, so that offset-less backends store UTC."""
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark offset-less values (SQLite) as the UTC they were stored in."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the demo tables."""


class Order(Base):
    """One order, from the moment the worker stores it until it ends shipped or failed."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    product_id: Mapped[str] = mapped_column(String)
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String)
    amount: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))
    correlation_id: Mapped[str | None] = mapped_column(String, index=True)
    created_at: Mapped[datetime] = mapped_column(_UtcDateTime, default=_utc_now)
    updated_at: Mapped[datetime] = mapped_column(_UtcDateTime, default=_utc_now, onupdate=_utc_now)


class Inventory(Base):
    """The stock of one product."""

    __tablename__ = "inventory"

    product_id: Mapped[str] = mapped_column(String, primary_key=True)
    quantity: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(_UtcDateTime, default=_utc_now, onupdate=_utc_now)


class Webhook(Base):
    """A URL registered to be called on some events (``POST /webhooks``)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    url: Mapped[str] = mapped_column(String)
    events: Mapped[str] = mapped_column(Text)
    """The event names, as a JSON array: ``["payment.completed"]``."""
    created_at: Mapped[datetime] = mapped_column(_UtcDateTime, default=_utc_now)


class TraceEvent(Base):
    """One step the service took for an order that has a correlation id.

    ``sequence`` numbers the events of a correlation id 1, 2, 3... in the order they were
    recorded; the unique index on ``(correlation_id, sequence)`` also serves lookups by
    correlation id.
    """

    __tablename__ = "trace_events"
    __table_args__ = (
        Index("ix_trace_events_correlation_id_sequence", "correlation_id", "sequence", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    correlation_id: Mapped[str] = mapped_column(String)
    sequence: Mapped[int]
    event_type: Mapped[str] = mapped_column(String)
    service: Mapped[str] = mapped_column(String)
    occurred_at: Mapped[datetime] = mapped_column(_UtcDateTime, default=_utc_now)
    attributes: Mapped[str] = mapped_column(Text)
    """A JSON object, such as ``{"order_id": "ord-1", "amount": 12.5}``."""
