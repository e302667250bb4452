"""HMAC signatures of webhook bodies: ``sha256=<hex HMAC-SHA256 of the raw body>``.

The algorithm's name prefixes the hex digest, as GitHub's ``X-Hub-Signature-256`` does.
"""

from __future__ import annotations

import hmac

__all__ = ["check_signature", "sign"]


def sign(body: bytes | str, secret: str, algorithm: str = "sha256") -> str:
    """The signature of ``body`` with ``secret``: ``sha256=<hex>``."""
    data = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), data, algorithm).hexdigest()
    return f"{algorithm}={digest}"


def check_signature(
    value: str | None, body: bytes, secret: str, *, algorithm: str = "sha256", header: str
) -> str | None:
    """Why ``value`` (the ``header`` a call carried, or None) is no valid signature of
    ``body``; None when it is one. Compared in constant time."""
    if value is None:
        return f"no {header} header"
    prefix, equals, digest = value.strip().partition("=")
    if not equals or prefix.lower() != algorithm or not digest:
        return f"{header} is not of the form {algorithm}=<hex>"
    if not hmac.compare_digest(sign(body, secret, algorithm), f"{algorithm}={digest.lower()}"):
        return f"{header} does not match the HMAC-{algorithm.upper()} of the body"
    return None
