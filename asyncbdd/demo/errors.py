"""The demo service's exceptions."""

from __future__ import annotations

__all__ = ["ServiceStateError", "TransportError"]


class ServiceStateError(RuntimeError):
    """The service was told to start while running, or to stop or report while stopped."""


class TransportError(RuntimeError):
    """Kafka or SQS cannot be used when the service starts: unreachable or misconfigured.

    The message names the transport, what was tried, and what to change.
    """
