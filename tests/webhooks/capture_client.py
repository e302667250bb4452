"""A plain HTTP client for the webhook tests: one request per fresh connection."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """What the capture server answered."""

    status: int
    body: bytes
    headers: dict[str, str]


def send(
    url: str,
    body: bytes | str | Mapping[str, Any] | None = None,
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """Send one request, a document as JSON, on a fresh connection; return the answer."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sent = dict(headers or {})
    if isinstance(body, Mapping):
        data: bytes | None = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    else:
        data = body.encode() if isinstance(body, str) else body
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request(method, target, body=data, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()
