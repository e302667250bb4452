"""behave's step decorators, for behave 1.3 and 1.2.6 alike.

behave 1.2.6 drops the colon that ends a step with a table or doc string before matching
(``Then the inventory change is:`` is matched as ``the inventory change is``); 1.3 keeps
it. A step written with its colon is registered under 1.2.6 without it as well, so the
same feature files run on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import behave

__all__ = ["given", "step", "then", "when"]

F = TypeVar("F", bound=Callable[..., Any])

_DROPS_COLONS = tuple(int(part) for part in behave.__version__.split(".")[:2]) < (1, 3)


def _both(register: Callable[[str], Callable[[F], F]]) -> Callable[[str], Callable[[F], F]]:
    def decorator(pattern: str) -> Callable[[F], F]:
        def apply(function: F) -> F:
            function = register(pattern)(function)
            if _DROPS_COLONS and pattern.endswith(":"):
                function = register(pattern[:-1])(function)
            return function

        return apply

    return decorator


given = _both(behave.given)
when = _both(behave.when)
then = _both(behave.then)
step = _both(behave.step)
