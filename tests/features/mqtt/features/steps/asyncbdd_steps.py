"""The library's vocabulary: one import gives every asyncbdd phrase."""

from asyncbdd.steps import *  # noqa: F403
