"""The text of the running step, so waits describe themselves in the feature's words."""

from __future__ import annotations

from typing import Any

__all__ = ["step_text"]


def step_text(context: Any) -> str | None:
    """The running step as written ("Then within 10 seconds ..."), if the hooks know it."""
    state = getattr(context, "asyncbdd", None)
    return None if state is None else state.current_step
