"""Fault switches: deliberate misbehaviour that proves a test fails when it should."""

from __future__ import annotations

from enum import Enum

__all__ = ["Fault", "parse_faults"]


class Fault(str, Enum):
    """A way the demo service can misbehave, applied to the orders accepted while it is set.

    * ``never-process``: the order is accepted over HTTP (202) but never stored or processed.
    * ``wrong-quantity``: payment takes ``quantity + 1`` from stock instead of ``quantity``.
    * ``fail-payment``: the order goes from pending to failed; stock is untouched.
    """

    NEVER_PROCESS = "never-process"
    WRONG_QUANTITY = "wrong-quantity"
    FAIL_PAYMENT = "fail-payment"


def parse_faults(text: str) -> frozenset[Fault]:
    """Parse comma-separated fault names, such as ``"fail-payment, wrong-quantity"``.

    Names are case-insensitive; empty items are ignored, so ``""`` means no fault.

    :raises ValueError: a name is not a fault; the message lists the valid names.
    """
    faults = set()
    for item in text.split(","):
        name = item.strip()
        if not name:
            continue
        try:
            faults.add(Fault(name.lower()))
        except ValueError:
            valid = ", ".join(fault.value for fault in Fault)
            raise ValueError(f"unknown fault {name!r}; valid faults: {valid}") from None
    return frozenset(faults)
