"""HMAC signatures of webhook bodies: ``sha256=<hex HMAC-SHA256 of the raw body>``.

The algorithm's name prefixes the hex digest, as GitHub's ``X-Hub-Signature-256`` does.
"""

from __future__ import annotations

import hmac
import re

__all__ = ["check_signature", "sign"]

_HEX = re.compile(r"[0-9A-Fa-f]+")


def sign(body: bytes | str, secret: str, algorithm: str = "sha256") -> str:
    """The signature of ``body`` with ``secret``: ``sha256=<hex>``."""
    data = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), data, algorithm).hexdigest()
    return f"{algorithm}={digest}"


def check_signature(
    value: str | None, body: bytes, secret: str, *, algorithm: str = "sha256", header: str
) -> str | None:
    """Why ``value`` (the ``header`` a call carried, or None) is no valid signature of
    ``body``; None when it is one. Anything but ``<algorithm>=<ASCII hex digits>`` is
    malformed; the digests are compared as bytes, in constant time."""
    if value is None:
        return f"no {header} header"
    prefix, equals, digest = value.strip(" \t").partition("=")
    if not equals or prefix.lower() != algorithm.lower() or not _HEX.fullmatch(digest):
        return f"{header} is not of the form {algorithm}=<hex>"
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, digest.lower().encode("ascii")):
        return f"{header} does not match the HMAC-{algorithm.upper()} of the body"
    return None
