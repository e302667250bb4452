"""The demo order service: the system under test of asyncbdd's own features.

Run it alone with ``python -m asyncbdd.demo``, or in-process::

    from asyncbdd.demo import Fault, OrderService

    with OrderService("sqlite:///orders.db", faults=[Fault.WRONG_QUANTITY]) as service:
        ...  # HTTP to service.url, SQL to service.database_url

It knows nothing of asyncbdd's engine: tests reach it only through its transports and
its database, as they would reach a real system.
"""

from asyncbdd.demo.faults import Fault, parse_faults
from asyncbdd.demo.models import Base, Inventory, Order, OrderStatus, create_schema
from asyncbdd.demo.service import DEFAULT_DATABASE_URL, OrderService, ServiceStateError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "Base",
    "Fault",
    "Inventory",
    "Order",
    "OrderService",
    "OrderStatus",
    "ServiceStateError",
    "create_schema",
    "parse_faults",
]
