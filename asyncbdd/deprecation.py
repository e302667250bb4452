"""Renamed functions and keywords: the old spelling keeps working for one minor release.

A renamed function keeps its old name as a forwarding wrapper, and a renamed keyword is
still accepted by the function that renamed it; both warn with a
:class:`DeprecationWarning` that names the replacement and points at the caller's line::

    check_stays = deprecated(
        "check_stays", expect_stays, renamed={"duration": "during"}, positional=("during",)
    )

    @renamed_keywords({"within": "during"}, positional=("during",))
    def expect_no_calls(name: str, *, during: Seconds, ...) -> list[Call]: ...

``positional`` names, in order, the keywords of the new signature that the old one took
as positional arguments after those the new one still takes positionally: an old call
``check_stays("the order status", "pending", 2)`` becomes
``expect_stays("the order status", "pending", during=2)``.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["deprecated", "renamed_keywords", "warn_deprecated"]

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

REMOVAL = "will be removed in the next minor release"
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_deprecated(old: str, new: str, *, stacklevel: int | None = None) -> None:
    """Warn that ``old`` is deprecated: ``new`` says what to write instead.

    The warning points at the nearest caller outside asyncbdd (the user's line, even when
    the old spelling is noticed deep inside a constructor), or ``stacklevel`` as
    :func:`warnings.warn` counts it from the caller of this function.
    """
    warnings.warn(
        f"{old} is deprecated and {REMOVAL}; use {new}.",
        DeprecationWarning,
        stacklevel=_outside_asyncbdd() if stacklevel is None else stacklevel + 1,
    )


def deprecated(
    old: str,
    replacement: Callable[..., R],
    *,
    instead: str | None = None,
    renamed: Mapping[str, str] | None = None,
    positional: Sequence[str] = (),
) -> Callable[..., R]:
    """A function called ``old`` that warns, then calls ``replacement``.

    :param old: the old name, as the warning shows it (``check_stays``).
    :param replacement: what it forwards to: the new function, or an adapter that keeps
        the old behaviour (an old return shape) on top of it.
    :param instead: what the warning tells the caller to write; default: the name of
        ``replacement``, with the renamed keywords.
    :param renamed: old keyword -> new keyword, for keywords the new name spells otherwise.
    :param positional: the new keywords that old callers passed positionally (see the
        module docstring).
    """
    keywords = dict(renamed or {})
    moves = _Moves(_positional_count(replacement) if positional else 0, positional, keywords)
    advice = instead or _advice(replacement.__name__, keywords, positional)

    def wrapper(*args: Any, **kwargs: Any) -> R:
        warn_deprecated(old, advice)
        args, kwargs = moves.apply(old, args, kwargs)
        return replacement(*args, **kwargs)

    short = old.rpartition(".")[2]
    wrapper.__name__ = wrapper.__qualname__ = short
    wrapper.__module__ = replacement.__module__
    wrapper.__doc__ = f"Deprecated: use {advice}. This name {REMOVAL}."
    wrapper.__wrapped__ = replacement  # type: ignore[attr-defined]
    return wrapper


def renamed_keywords(
    renamed: Mapping[str, str], *, positional: Sequence[str] = ()
) -> Callable[[F], F]:
    """Decorator: the function also accepts its old keywords (old -> new in ``renamed``)
    and, when ``positional`` is given, its old positional arguments; either warns.

    Giving a keyword under both its old and its new name is a :class:`TypeError`.
    """
    keywords = dict(renamed)

    def decorate(function: F) -> F:
        moves = _Moves(_positional_count(function) if positional else 0, positional, keywords)
        name = function.__name__

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > moves.taken and positional:
                moved = ", ".join(f"{new}=" for new in positional[: len(args) - moves.taken])
                warn_deprecated(f"passing {moved} to {name} positionally", f"{moved} by name")
            for old, new in keywords.items():
                if old in kwargs:
                    warn_deprecated(f"{name}({old}=...)", f"{name}({new}=...)")
            args, kwargs = moves.apply(name, args, kwargs)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _outside_asyncbdd() -> int:
    """The ``stacklevel`` of the nearest frame outside asyncbdd's own modules (and the code
    dataclasses generate), counted from the caller of :func:`warn_deprecated`."""
    frame = sys._getframe(2)
    level = 2
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE) or frame.f_code.co_filename == "<string>"
    ):
        frame = frame.f_back
        level += 1
    return level


def _positional_count(function: Callable[..., Any]) -> int:
    """How many arguments ``function`` takes positionally (it must take no ``*args``)."""
    kinds = [parameter.kind for parameter in inspect.signature(function).parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        raise TypeError(
            f"{function.__name__} takes *args, so old positional arguments cannot be moved "
            "to keywords; give no positional= for it."
        )
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(kind in positional for kind in kinds)


@dataclass(frozen=True)
class _Moves:
    """How an old-style call's arguments become the new signature's."""

    taken: int
    """How many arguments the new signature takes positionally."""
    positional: Sequence[str]
    keywords: Mapping[str, str]

    def apply(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments of an old-style call of ``name``, as the new signature takes them."""
        if len(args) > self.taken and self.positional:
            extra = args[self.taken :]
            if len(extra) > len(self.positional):
                raise TypeError(
                    f"{name} takes at most {self.taken + len(self.positional)} positional "
                    f"arguments ({len(args)} given)."
                )
            args = args[: self.taken]
            for keyword, value in zip(self.positional, extra, strict=False):
                if keyword in kwargs:
                    raise TypeError(f"{name} got {keyword} both by position and by name.")
                kwargs[keyword] = value
        for old, new in self.keywords.items():
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(
                        f"{name} got both {old}= and {new}=; {old}= is the old name of "
                        f"{new}=, give only {new}=."
                    )
                kwargs[new] = kwargs.pop(old)
        return args, kwargs


def _advice(name: str, renamed: Mapping[str, str], positional: Sequence[str]) -> str:
    news = list(dict.fromkeys([*renamed.values(), *positional]))
    return f"{name}(..., {', '.join(f'{new}=...' for new in news)})" if news else name
