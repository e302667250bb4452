"""What counts as a secret, and how it is masked wherever asyncbdd shows something.

A header, query parameter, option or setting is secret when its *name* says so:
:func:`is_secret_name` compares it, case-insensitively and ignoring ``-``, ``_``, ``.``
and spaces, with :data:`SECRET_WORDS` (``X-Api-Key``, ``access_token``,
``sasl_plain_password``, ``X-Hub-Signature-256``, ``Set-Cookie`` ...) and with the names
a team adds: setting ``asyncbdd.secrets.names`` (``ASYNCBDD_SECRETS_NAMES=X-Tenant,pin``),
or :func:`add_secret_names` from Python. A secret value is shown as :func:`mask_value`
makes it (``***``, ``Bearer ***``, ``sha256=***``).

URLs go through :func:`mask_url` (the password of ``user:password@``, the values of secret
query parameters), mappings of headers or options through :func:`mask_mapping`, and the
text of other libraries' errors through :func:`mask_urls_in`.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TypeVar

from asyncbdd.errors import InvalidInput

__all__ = [
    "MASK",
    "SECRET_WORDS",
    "UNPARSEABLE_URL",
    "add_secret_names",
    "is_secret_name",
    "mask_mapping",
    "mask_named",
    "mask_query",
    "mask_url",
    "mask_urls_in",
    "mask_value",
]

MASK = "***"
"""What a secret is shown as."""
UNPARSEABLE_URL = "<unparseable URL>"
"""What a URL is shown as when it cannot be read well enough to be sure its secrets are
masked (an unencoded ``@`` or ``/`` in its password, an unclosed ``[``)."""

SECRET_WORDS = (
    "token", "secret", "password", "passwd", "pwd", "apikey", "auth", "signature",
    "session", "cookie", "credential", "privatekey",
)  # fmt: skip
"""A name containing one of these (compared as :func:`is_secret_name` says) is secret:
``auth`` covers ``Authorization``, ``Proxy-Authorization``, ``X-Auth-Token``, ``oauth``."""

K = TypeVar("K")
V = TypeVar("V")


def is_secret_name(name: object, extra_names: Iterable[str] | None = None) -> bool:
    """Whether values named ``name`` are secret: it contains one of :data:`SECRET_WORDS`
    or of ``extra_names`` (default: setting ``asyncbdd.secrets.names`` in force), compared
    in lower case with ``-``, ``_``, ``.`` and spaces left out."""
    key = _normal(str(name))
    if any(word in key for word in SECRET_WORDS):
        return True
    names = _names_in_force() if extra_names is None else extra_names
    return any(word and word in key for word in map(_normal, names))


def add_secret_names(*names: str) -> None:
    """Mask the values of ``names`` too (and of every name containing one), for the rest
    of the run: they are added to setting ``asyncbdd.secrets.names`` in force.

    Like any change of the settings in force, call it once they are loaded for the run
    (in ``before_all``, after setting any ``ASYNCBDD_*`` variable): the next run loads
    its settings afresh, and ``asyncbdd.secrets.names`` is the way to give names to all
    runs.
    """
    from asyncbdd.config import get_settings, set_settings  # noqa: PLC0415 (config imports us)

    for name in names:
        if not isinstance(name, str) or not _normal(name):
            raise InvalidInput(
                f"A secret name has a letter or digit, e.g. 'X-Tenant-Key'; got {name!r}."
            )
    settings = get_settings()
    added = tuple(name.strip() for name in names if name.strip() not in settings.secrets_names)
    set_settings(settings.replace(secrets_names=(*settings.secrets_names, *added)))


def mask_value(value: object) -> str:
    """A secret as output shows it: ``***``, keeping an HTTP authentication scheme
    (``Bearer ***``) or a digest algorithm prefix (``sha256=***``), nothing else."""
    text = value if isinstance(value, str) else ""
    scheme, space, _ = text.partition(" ")
    if space and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {MASK}"
    prefix, equals, _ = text.partition("=")
    if equals and prefix.lower() in _DIGESTS:
        return f"{prefix}={MASK}"
    return MASK


def mask_named(name: object, value: object) -> str:
    """``value`` of ``name`` (a header, parameter, attribute) as output may show it:
    :func:`mask_value` when the name is secret, else the value as text."""
    return mask_value(value) if is_secret_name(name) else str(value)


def mask_mapping(
    mapping: Mapping[K, V],
    *,
    also: Iterable[str] = (),
    extra_names: Iterable[str] | None = None,
) -> dict[K, V | str]:
    """A copy of ``mapping`` (headers, client options) as output may show it: values of
    secret names (and of the names in ``also``, any case) masked, URLs in the other text
    values through :func:`mask_url`."""
    masked = {name.lower() for name in also}
    names = _names_in_force() if extra_names is None else tuple(extra_names)
    shown: dict[K, V | str] = {}
    for key, value in mapping.items():
        if str(key).lower() in masked or is_secret_name(key, names):
            shown[key] = mask_value(value)
        elif isinstance(value, str) and "://" in value:
            shown[key] = mask_urls_in(value, extra_names=names)
        else:
            shown[key] = value
    return shown


def mask_url(url: object, *, extra_names: Iterable[str] | None = None) -> str:
    """``url`` (any scheme, or a SQLAlchemy URL) as output may show it: the password of
    its ``user:password@`` replaced by ``***``, and the values of its secret query (and
    fragment) parameters too; the rest as it was.

    Never raises: what cannot be read well enough to be sure its secrets are masked is
    :data:`UNPARSEABLE_URL`.
    """
    names = _names_in_force() if extra_names is None else tuple(extra_names)
    try:
        return _masked_url(str(url), names)
    except ValueError:  # an unclosed [ of an IPv6 address, and the like
        return UNPARSEABLE_URL


def mask_query(query: str, *, extra_names: Iterable[str] | None = None) -> str:
    """A query string (``a=1&access_token=x``) with the values of secret parameters
    masked (``a=1&access_token=***``). Text after a masked value up to the next
    ``name=`` is taken as part of it (an unencoded ``&`` in a token)."""
    names = _names_in_force() if extra_names is None else tuple(extra_names)
    shown: list[str] = []
    in_secret = False
    for item in query.split("&"):
        name, equals, _ = item.partition("=")
        if not equals:
            if not in_secret:
                shown.append(item)
            continue
        in_secret = is_secret_name(urllib.parse.unquote_plus(name), names)
        shown.append(f"{name}={MASK}" if in_secret else item)
    return "&".join(shown)


def mask_urls_in(text: str, *, extra_names: Iterable[str] | None = None) -> str:
    """``text`` (another library's error message) with every ``scheme://...`` in it
    through :func:`mask_url`."""
    names = _names_in_force() if extra_names is None else tuple(extra_names)
    return _URL_IN_TEXT.sub(lambda found: mask_url(found.group(0), extra_names=names), text)


# --------------------------------------------------------------------------------------


def _masked_url(text: str, names: tuple[str, ...]) -> str:
    nested = _NESTED_URL.match(text)  # sqs:https://..., a queue spec
    if nested:
        return nested.group(0) + _masked_url(text[nested.end() :], names)
    original, text = text, text.strip()
    parts = urllib.parse.urlsplit(text)
    after = parts.path + parts.query + parts.fragment
    userinfo, at, host = parts.netloc.rpartition("@")
    if not parts.netloc and "@" in text:
        return UNPARSEABLE_URL  # u:pw@host without a scheme, postgresql:/u:pw@host
    if "@" in after and (at or ":" in host.rpartition("]")[2]):
        return UNPARSEABLE_URL  # u:pa/ss@host: a / ? or # in the password cut it
    user, colon, _ = userinfo.partition(":")
    netloc = (f"{user}:{MASK}@" if colon else f"{userinfo}@" if at else "") + host
    query = mask_query(parts.query, extra_names=names)
    fragment = mask_query(parts.fragment, extra_names=names)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return original
    start = text[: len(parts.scheme) + 1] if parts.scheme else ""  # in its own case
    authority = parts.netloc or text[len(start) :].lstrip().startswith("//")
    return (
        start
        + (f"//{netloc}" if authority else "")
        + parts.path
        + (f"?{query}" if parts.query else "")
        + (f"#{fragment}" if parts.fragment else "")
    )


def _normal(name: str) -> str:
    return _IGNORED.sub("", name).lower()


def _names_in_force() -> tuple[str, ...]:
    """The names of setting ``asyncbdd.secrets.names``; none when settings cannot be read
    (masking must never fail the report it is part of)."""
    from asyncbdd.config import get_settings  # noqa: PLC0415 (config imports us)

    try:
        return tuple(get_settings().secrets_names)
    except Exception:  # an invalid configuration reports itself where it is read
        return ()


_IGNORED = re.compile(r"[-_.\s]+")
_NESTED_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)+(?=[A-Za-z][A-Za-z0-9+.\-]*://)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_AUTH_SCHEMES = frozenset({
    "basic", "bearer", "digest", "negotiate", "ntlm", "token", "hoba", "mutual", "oauth",
    "vapid", "scram-sha-1", "scram-sha-256", "aws4-hmac-sha256",
})  # fmt: skip
"""HTTP authentication schemes (IANA's registry): the word before a credential."""
_DIGESTS = frozenset(name.lower() for name in hashlib.algorithms_guaranteed)
"""Hash names that prefix a signature (``sha256=<hex>``)."""
