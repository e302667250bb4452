"""asyncbdd's Gherkin vocabulary for behave.

Import it once from a steps directory to get every phrase::

    # features/steps/asyncbdd_steps.py
    from asyncbdd.steps import *  # noqa: F403

Each ``*_steps`` module covers one pattern; its steps parse their text and call one
engine function, so everything they do is also available to pytest from the engine.
"""

from asyncbdd.steps import (
    data_steps,
    queue_steps,
    snapshot_steps,
    trace_steps,
    waiting_steps,
    webhook_steps,
)

__all__ = [
    "data_steps",
    "queue_steps",
    "snapshot_steps",
    "trace_steps",
    "waiting_steps",
    "webhook_steps",
]
