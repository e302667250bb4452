"""The order pipeline: one worker thread takes each accepted order through ordered stages.

A stage is a callable that does one step of processing in its own transaction and says
whether the order goes on. Side effects (SQS messages, webhooks) are stages run after
payment or after shipping (``after_payment``, ``after_shipping``); transports that bring
orders in (HTTP, Kafka) are callers of :meth:`OrderPipeline.submit`.

Every status change is logged (logger ``asyncbdd.demo``, level INFO) as
``order <id>: <status> [(<why>)]``, inside the transaction that makes it, so whoever sees
the new status in the database also finds its log line.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from asyncbdd.demo.faults import Fault
from asyncbdd.demo.models import Inventory, Order, OrderStatus

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
    """How much stock payment takes for the order: its quantity, unless a fault says more."""
    return job.order.quantity + (1 if Fault.WRONG_QUANTITY in job.faults else 0)


class OrderPipeline:
    """Processes submitted orders one at a time, in arrival order, through :attr:`stages`.

    Before each stage the worker waits a random delay drawn uniformly from ``jitter``
    (seconds), as a real system would take time; :meth:`stop` interrupts that wait at once.

    :param after_payment: stages run once the order is paid, before it ships.
    :param after_shipping: stages run once the order is shipped.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        jitter: tuple[float, float],
        rng: random.Random,
        after_payment: Sequence[Stage] = (),
        after_shipping: Sequence[Stage] = (),
    ) -> None:
        self.stages: list[Stage] = [
            self._store_pending,
            self._take_payment,
            *after_payment,
            self._ship,
            *after_shipping,
        ]
        self._sessions = sessions
        self._jitter = jitter
        self._rng = rng
        self._jobs: queue.Queue[OrderJob | None] = queue.Queue()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="asyncbdd-demo-worker", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._worker.start()

    def submit(self, job: OrderJob) -> None:
        """Queue an order for processing; returns at once."""
        self._jobs.put(job)

    def stop(self) -> None:
        """Stop the worker, abandoning the order in progress and those still queued."""
        self._stopping.set()
        self._jobs.put(None)  # wakes the worker if it is waiting for work
        self._worker.join()

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

    # ----------------------------------------------------------------------------------
    # The stages
    # ----------------------------------------------------------------------------------

    def _store_pending(self, job: OrderJob) -> bool:
        order = job.order
        if Fault.NEVER_PROCESS in job.faults:
            logger.info("order %s: dropped by fault %s", order.order_id, Fault.NEVER_PROCESS.value)
            return False
        with self._sessions.begin() as session:
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
            _log_status(order.order_id, OrderStatus.PENDING)
        return True

    def _take_payment(self, job: OrderJob) -> bool:
        """Mark the order paid and take its quantity from stock, in one transaction."""
        order = job.order
        with self._sessions.begin() as session:
            if Fault.FAIL_PAYMENT in job.faults:
                why = f"payment declined by fault {Fault.FAIL_PAYMENT.value}"
                _set_status(session, order.order_id, OrderStatus.FAILED, why)
                return False
            taken = quantity_to_take(job)
            reserved = session.connection().execute(
                update(Inventory)
                .where(Inventory.product_id == order.product_id, Inventory.quantity >= taken)
                .values(quantity=Inventory.quantity - taken)
            )
            if reserved.rowcount == 0:
                stock = session.get(Inventory, order.product_id)
                if stock is None:
                    why = f"unknown product {order.product_id!r}"
                else:
                    why = f"{stock.quantity} of {order.product_id!r} in stock, {taken} needed"
                _set_status(session, order.order_id, OrderStatus.FAILED, why)
                return False
            _set_status(
                session, order.order_id, OrderStatus.PAID, f"took {taken} of {order.product_id!r}"
            )
        return True

    def _ship(self, job: OrderJob) -> bool:
        with self._sessions.begin() as session:
            _set_status(session, job.order.order_id, OrderStatus.SHIPPED)
        return True


def _set_status(session: Session, order_id: str, status: OrderStatus, why: str = "") -> None:
    session.execute(update(Order).where(Order.id == order_id).values(status=status.value))
    _log_status(order_id, status, why)


def _log_status(order_id: str, status: OrderStatus, why: str = "") -> None:
    logger.info("order %s: %s%s", order_id, status.value, f" ({why})" if why else "")
