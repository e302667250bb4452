"""The order pipeline: one worker thread takes each accepted order through ordered stages.

A stage is a callable that does one step of processing in its own transaction and says
whether the order goes on. Side effects (SQS messages, webhooks) are stages run after
payment or after shipping (``after_payment``, ``after_shipping``); transports that bring
orders in (HTTP, Kafka) are callers of :meth:`OrderPipeline.submit`.

The stages, each after its own jitter delay:

==========================  ==============================================================
Stage                       Does, in one transaction, and records (for orders that have a
                            correlation id) in the same transaction
==========================  ==============================================================
store pending               stores the order ``pending``: ``order.created`` (orders)
take payment                ``payment.initiated`` (payments); checks the stock, then marks
                            the order ``paid``: ``payment.completed`` (payments); or
                            ``failed`` (unknown product, too little stock), so a failed
                            order's trace ends with ``payment.failed`` (payments)
reserve stock               takes the order's quantity from stock: ``inventory.reserved``
                            (inventory)
``after_payment`` stages    (the webhook calls handed to their sender, then the SQS billing
                            and inventory messages)
ship                        marks the order ``shipped``: ``shipping.label_created``
                            (shipping)
``after_shipping`` stages   (the SQS shipping message)
notify                      records ``notification.sent`` (notifications), the last step:
                            by then the order's webhook calls have been handed to their
                            sender (made, or still being made or retried)
==========================  ==============================================================

``notification.sent`` is recorded after shipping rather than when the webhook calls are
handed over (right after payment), so that the healthy chain reads in the order of the
contract: ... ``inventory.reserved``, ``shipping.label_created``, ``notification.sent``.

Trace events go to the ``trace_events`` table (:class:`~asyncbdd.demo.models.TraceEvent`):
``sequence`` counts 1, 2, 3... per correlation id in the order the events are recorded,
``occurred_at`` is when (UTC), ``attributes`` a JSON object with the order id and what the
step was about. The trace faults (:class:`~asyncbdd.demo.faults.Fault`) bend this chain.

Every status change is logged (logger ``asyncbdd.demo``, level INFO) as
``order <id>: <status> [(<why>)]``, inside the transaction that makes it, so whoever sees
the new status in the database also finds its log line.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from asyncbdd.demo.faults import Fault
from asyncbdd.demo.models import Inventory, Order, OrderStatus, TraceEvent

__all__ = ["OrderJob", "OrderPipeline", "OrderRequest", "Stage", "quantity_to_take"]

logger = logging.getLogger("asyncbdd.demo")


@dataclass(frozen=True)
class OrderRequest:
    """An order a transport accepted and validated."""

    order_id: str
    product_id: str
    quantity: int
    amount: float | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class OrderJob:
    """An order to process, with the faults in force when it was accepted."""

    order: OrderRequest
    faults: frozenset[Fault] = frozenset()


Stage = Callable[[OrderJob], bool]
"""One step of processing; returns whether the order goes on to the next stage."""


def quantity_to_take(job: OrderJob) -> int:
    """How much stock the order takes: its quantity, unless a fault says more."""
    return job.order.quantity + (1 if Fault.WRONG_QUANTITY in job.faults else 0)


class OrderPipeline:
    """Processes submitted orders one at a time, in arrival order, through :attr:`stages`.

    Before each stage the worker waits a random delay drawn uniformly from ``jitter``
    (seconds), as a real system would take time; :meth:`stop` interrupts that wait at once.

    :param after_payment: stages run once the order is paid and its stock taken, before it
        ships.
    :param after_shipping: stages run once the order is shipped.
    :param slow_step_delay: seconds ``slow-trace-step`` holds ``notification.sent`` back.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        jitter: tuple[float, float],
        rng: random.Random,
        after_payment: Sequence[Stage] = (),
        after_shipping: Sequence[Stage] = (),
        slow_step_delay: float = 8.0,
    ) -> None:
        self.stages: list[Stage] = [
            self._store_pending,
            self._take_payment,
            self._reserve_stock,
            *after_payment,
            self._ship,
            *after_shipping,
            self._notify,
        ]
        self._sessions = sessions
        self._jitter = jitter
        self._rng = rng
        self._slow_step_delay = slow_step_delay
        self._jobs: queue.Queue[OrderJob | None] = queue.Queue()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="asyncbdd-demo-worker", daemon=True)
        # Held through every transaction that records trace events, so that two of them
        # (the worker's and a held-back one's) never number the same correlation id at once.
        self._trace_lock = threading.Lock()
        self._held_back: set[threading.Timer] = set()  # only the worker adds to it

    def start(self) -> None:
        """Start the worker thread."""
        self._worker.start()

    def submit(self, job: OrderJob) -> None:
        """Queue an order for processing; returns at once."""
        self._jobs.put(job)

    def stop(self) -> None:
        """Stop the worker, abandoning the order in progress and those still queued, and
        drop the trace events held back; nothing is recorded after this returns."""
        self._stopping.set()
        self._jobs.put(None)  # wakes the worker if it is waiting for work
        self._worker.join()
        for timer in self._held_back:
            timer.cancel()
        for timer in self._held_back:
            timer.join()  # one that already fired sees _stopping and records nothing
        self._held_back.clear()

    # ----------------------------------------------------------------------------------
    # The worker
    # ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None and not self._stopping.is_set():
            try:
                self._process(job)
            except Exception:
                logger.exception("order %s: processing crashed", job.order.order_id)

    def _process(self, job: OrderJob) -> None:
        for stage in self.stages:
            if self._stopping.wait(self._rng.uniform(*self._jitter)):
                return
            if not stage(job):
                return

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A transaction that may record trace events, committed when the block ends."""
        with self._trace_lock, self._sessions.begin() as session:
            yield session

    # ----------------------------------------------------------------------------------
    # The stages
    # ----------------------------------------------------------------------------------

    def _store_pending(self, job: OrderJob) -> bool:
        order = job.order
        if Fault.NEVER_PROCESS in job.faults:
            logger.info("order %s: dropped by fault %s", order.order_id, Fault.NEVER_PROCESS.value)
            return False
        with self._transaction() as session:
            if session.get(Order, order.order_id) is not None:
                logger.info("order %s: ignored (an order with this id exists)", order.order_id)
                return False
            session.add(
                Order(
                    id=order.order_id,
                    product_id=order.product_id,
                    quantity=order.quantity,
                    status=OrderStatus.PENDING.value,
                    amount=order.amount,
                    correlation_id=order.correlation_id,
                )
            )
            _record(
                session,
                job,
                "order.created",
                "orders",
                product_id=order.product_id,
                quantity=order.quantity,
                amount=order.amount,
            )
            _log_status(order.order_id, OrderStatus.PENDING)
        return True

    def _take_payment(self, job: OrderJob) -> bool:
        """Mark the order paid if its stock suffices, or failed."""
        order = job.order
        with self._transaction() as session:
            _record(session, job, "payment.initiated", "payments", amount=order.amount)
            if Fault.FAIL_PAYMENT in job.faults:
                why = f"payment declined by fault {Fault.FAIL_PAYMENT.value}"
                _set_status(session, order.order_id, OrderStatus.FAILED, why)
                _record(session, job, "payment.failed", "payments", reason=why)
                return False
            needed = quantity_to_take(job)
            stock = session.get(Inventory, order.product_id)
            if stock is None or stock.quantity < needed:
                if stock is None:
                    why = f"unknown product {order.product_id!r}"
                else:
                    why = f"{stock.quantity} of {order.product_id!r} in stock, {needed} needed"
                _set_status(session, order.order_id, OrderStatus.FAILED, why)
                _record(session, job, "payment.failed", "payments", reason=why)
                return False
            _set_status(session, order.order_id, OrderStatus.PAID)
            if Fault.SWAP_TRACE_EVENTS not in job.faults:
                _record_payment_completed(session, job)
        if Fault.STOP_MID_CHAIN in job.faults:
            logger.info(
                "order %s: processing stopped after payment by fault %s",
                order.order_id,
                Fault.STOP_MID_CHAIN.value,
            )
            return False
        return True

    def _reserve_stock(self, job: OrderJob) -> bool:
        """Take the paid order's quantity from stock."""
        order = job.order
        taken = quantity_to_take(job)
        with self._transaction() as session:
            reserved = session.connection().execute(
                update(Inventory)
                .where(Inventory.product_id == order.product_id, Inventory.quantity >= taken)
                .values(quantity=Inventory.quantity - taken)
            )
            if reserved.rowcount == 0:  # the stock was reset (PUT) since payment checked it
                stock = session.get(Inventory, order.product_id)
                left = 0 if stock is None else stock.quantity
                why = f"{left} of {order.product_id!r} in stock after payment, {taken} needed"
                _set_status(session, order.order_id, OrderStatus.FAILED, why)
                return False
            logger.debug(
                "order %s: took %d of %r from stock", order.order_id, taken, order.product_id
            )
            if Fault.DROP_TRACE_EVENT in job.faults:
                _log_fault(job, "inventory.reserved not recorded", Fault.DROP_TRACE_EVENT)
            else:
                _record(
                    session,
                    job,
                    "inventory.reserved",
                    "inventory",
                    product_id=order.product_id,
                    quantity=taken,
                )
            if Fault.SWAP_TRACE_EVENTS in job.faults:
                _log_fault(job, "payment.completed recorded late", Fault.SWAP_TRACE_EVENTS)
                _record_payment_completed(session, job)
        return True

    def _ship(self, job: OrderJob) -> bool:
        order = job.order
        with self._transaction() as session:
            _set_status(session, order.order_id, OrderStatus.SHIPPED)
            _record(
                session,
                job,
                "shipping.label_created",
                "shipping",
                product_id=order.product_id,
                quantity=order.quantity,
            )
        return True

    def _notify(self, job: OrderJob) -> bool:
        """Record notification.sent, or have a timer record it later (slow-trace-step)."""
        if job.order.correlation_id is None:
            return True  # nothing to record
        if Fault.SLOW_TRACE_STEP not in job.faults:
            with self._transaction() as session:
                _record(session, job, "notification.sent", "notifications")
            return True
        # A timer, not a wait: the worker goes on with the next orders.
        timer = threading.Timer(self._slow_step_delay, self._notify_late, args=(job,))
        timer.name = "asyncbdd-demo-slow-trace-step"
        timer.daemon = True
        self._held_back = {held for held in self._held_back if held.is_alive()}
        self._held_back.add(timer)
        timer.start()
        _log_fault(
            job, f"notification.sent held back {self._slow_step_delay:g} s", Fault.SLOW_TRACE_STEP
        )
        return True

    def _notify_late(self, job: OrderJob) -> None:
        with self._transaction() as session:
            if not self._stopping.is_set():
                _record(session, job, "notification.sent", "notifications")


def _record(
    session: Session, job: OrderJob, event_type: str, service: str, **attributes: object
) -> None:
    """Add a trace event of the order to the session's transaction, numbered after the
    last one of its correlation id; an order without a correlation id records nothing."""
    correlation_id = job.order.correlation_id
    if correlation_id is None:
        return
    last = session.scalar(
        select(func.max(TraceEvent.sequence)).where(TraceEvent.correlation_id == correlation_id)
    )
    session.add(
        TraceEvent(
            correlation_id=correlation_id,
            sequence=(last or 0) + 1,
            event_type=event_type,
            service=service,
            occurred_at=datetime.now(timezone.utc),
            attributes=json.dumps({"order_id": job.order.order_id, **attributes}),
        )
    )
    session.flush()  # so that the next event of the transaction numbers after this one
    logger.debug("order %s: recorded %s", job.order.order_id, event_type)


def _record_payment_completed(session: Session, job: OrderJob) -> None:
    copies = 2 if Fault.DUPLICATE_TRACE_EVENT in job.faults else 1
    if copies == 2:
        _log_fault(job, "payment.completed recorded twice", Fault.DUPLICATE_TRACE_EVENT)
    for _ in range(copies):
        _record(session, job, "payment.completed", "payments", amount=job.order.amount)


def _log_fault(job: OrderJob, what: str, fault: Fault) -> None:
    if job.order.correlation_id is not None:
        logger.info("order %s: %s by fault %s", job.order.order_id, what, fault.value)


def _set_status(session: Session, order_id: str, status: OrderStatus, why: str = "") -> None:
    session.execute(update(Order).where(Order.id == order_id).values(status=status.value))
    _log_status(order_id, status, why)


def _log_status(order_id: str, status: OrderStatus, why: str = "") -> None:
    logger.info("order %s: %s%s", order_id, status.value, f" ({why})" if why else "")
