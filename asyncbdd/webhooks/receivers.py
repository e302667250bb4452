"""Webhook receivers a scenario declares, the calls they capture, and the run's server.

A receiver is a name (``payment-complete``) and, for the scenario that declares it, a URL
of its own on the run's capture server: ``<base>/hooks/<scenario id>/<name>``, where base
is ``http://HOST:PORT`` or the setting ``asyncbdd.webhooks.public_url``. Requests to that
URL, or below it, are calls to the receiver, recorded in the scenario's
:class:`Captures` however late they come; when the scenario ends its URLs stop answering
(404), so a previous scenario's late calls never count for the next one. A name is one
segment of the path: one with "/" (or "." and "..", which clients drop from URLs) is
refused, so the segment after the scenario id names the one receiver a call is for, and
a call below receiver "a" (``<url>/b``) cannot be taken for a receiver "a/b".

A request to a path no receiver owns is answered 404 and recorded as a stray call, shown
when a webhook expectation fails: a call of the scenario whose id its path carries, or, when
it carries no running scenario's id, of every scenario running then (the server is shared,
so no one of them can be told to be its sender).

A system under test that calls every registered webhook for every event (a service shared
by parallel test runs) calls a scenario's receiver for other scenarios' orders too. With
the setting ``asyncbdd.webhooks.correlation`` (``header:X-Correlation-Id``), a call
carrying another scenario's correlation id is answered as usual but not counted, and is
listed as another scenario's when an expectation fails; a call carrying none counts.

With a secret (setting ``asyncbdd.webhooks.secret``, or per receiver), every call must be
signed: a call without a valid signature is recorded and fails every expectation on its
receiver at once, naming it. It is answered 401, as the real receiver would answer it, so
the system under test sees the rejection it would see in production (and, as for any 4xx,
does not retry); a 2xx would hide the defect from the system, a 5xx would provoke retries
the test did not ask for.

The server starts with the first receiver and serves the whole run; it stops at exit,
in behave's ``after_all``, or on :func:`stop_webhook_server`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.config import get_settings
from asyncbdd.content import NOT_JSON
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import AsyncBddError, InvalidInput, UnknownName
from asyncbdd.infra.run_scoped import RunScoped
from asyncbdd.matching import field_text
from asyncbdd.scenario import Scenario, Slot, on_scenario_start, running_scenario
from asyncbdd.secrets import mask_url
from asyncbdd.signals import Changes
from asyncbdd.webhooks.call import Call, Signature
from asyncbdd.webhooks.server import Request, Response, WebhookServer
from asyncbdd.webhooks.signatures import check_signature

__all__ = [
    "HOW_TO_DECLARE",
    "Captures",
    "Receiver",
    "ResponseBody",
    "captures",
    "stop_webhook_server",
    "webhook_receiver",
    "webhook_server",
    "webhook_url",
]

HOW_TO_DECLARE = (
    "Declare it first in the scenario: 'Given a webhook receiver \"payment-complete\"', "
    'or webhook_receiver("payment-complete").'
)
PATH_PREFIX = "/hooks"
_TEXT = "text/plain; charset=utf-8"

ResponseBody = str | bytes | Mapping[str, Any] | list[Any] | None
"""A body to answer with: text, bytes, or a document sent as JSON."""


@dataclass(eq=False, repr=False)
class Receiver:
    """A named webhook receiver of one scenario: its URL, and how it answers.

    It answers ``status`` with ``body`` after ``delay`` seconds, except that the first
    ``fail_first`` calls are answered ``fail_status`` (to test the caller's retries).
    ``body`` may be a function of the :class:`Call`, giving the body to answer with.
    """

    name: str
    url: str
    path: str
    status: int = 200
    body: ResponseBody | Callable[[Call], ResponseBody] = None
    delay: float = 0.0
    fail_first: int = 0
    fail_status: int = 500
    secret: str | None = field(default=None, repr=False)
    """The HMAC secret calls must be signed with; None: signatures are not checked."""
    signature_header: str = "X-Signature"
    signature_algorithm: str = "sha256"
    answered: int = field(default=0, repr=False)
    """Calls answered so far by the receiver's own rules (not rejected ones)."""

    def describe(self) -> str:
        """Where it is and how it answers, for a failure report."""
        how = [f"answers {self.status}"]
        if self.fail_first:
            calls = "call" if self.fail_first == 1 else f"{self.fail_first} calls"
            how.append(f"fails the first {calls} with {self.fail_status}")
        if self.delay:
            how.append(f"after {format_duration(self.delay)}")
        if self.secret is not None:
            how.append(f"checks the {self.signature_header} signature")
        return f"webhook receiver at {mask_url(self.url)} ({', '.join(how)})"

    def __repr__(self) -> str:
        return f"<Receiver {self.name!r}: {self.describe()}>"


@dataclass
class Captures:
    """What one scenario's receivers captured; waiters are woken on every call."""

    scenario_id: str
    started_at: float = field(default_factory=time.monotonic)
    correlation_id: str | None = None
    """The scenario's correlation id; calls carrying another one are not its own."""
    receivers: dict[str, Receiver] = field(default_factory=dict)
    """The scenario's receivers by name, in the order they were declared."""
    calls: dict[str, list[Call]] = field(default_factory=lambda: defaultdict(list))
    strays: list[Call] = field(default_factory=list)
    """Calls to paths no receiver owns, while the scenario ran."""
    others: list[Call] = field(default_factory=list)
    """Calls to its receivers that carry another scenario's correlation id: not counted."""
    errors: dict[str, BaseException] = field(default_factory=dict)
    """Errors of the server thread, by receiver name ("" for none in particular)."""
    latest: list[Call] | None = None
    """The calls the latest expectation returned: what "the call" refers to."""
    changed: Changes = field(default_factory=Changes, repr=False)
    """Notified on every call, stray call and error (waking threads and tasks); guards
    everything above."""


def webhook_receiver(
    name: str,
    *,
    status: int = 200,
    body: ResponseBody | Callable[[Call], ResponseBody] = None,
    delay: float | str = 0.0,
    fail_first: int = 0,
    fail_status: int = 500,
    secret: str | None = None,
) -> Receiver:
    """Declare a receiver for the running scenario and return it (its URL is ``.url``).

    ``secret`` overrides the setting ``asyncbdd.webhooks.secret`` for this receiver.
    Starts the run's capture server if it is not running.
    """
    name = _checked_name(name)
    _check_status(name, "status", status, 200)
    _check_status(name, "fail_status", fail_status, 400)
    if isinstance(fail_first, bool) or not isinstance(fail_first, int) or fail_first < 0:
        raise InvalidInput(f"fail_first is a number of calls, 0 or more; got {fail_first!r}.")
    seconds = to_seconds(delay)
    if not callable(body):
        _encoded(body)  # a body that cannot be sent fails now, not in the server
    box = _CAPTURES.of(_running("webhook_receiver", name))
    settings = get_settings()
    with box.changed:
        if name in box.receivers:
            raise InvalidInput(
                f'A webhook receiver "{name}" is declared already in this scenario, at '
                f"{mask_url(box.receivers[name].url)}; declare each receiver once per scenario."
            )
        first = not box.receivers
    server = webhook_server(restart_if_reconfigured=first)
    path = f"{PATH_PREFIX}/{box.scenario_id}/{urllib.parse.quote(name, safe='')}"
    receiver = Receiver(
        name=name,
        url=(settings.webhooks_public_url or server.url) + path,
        path=path,
        status=status,
        body=body,
        delay=seconds,
        fail_first=fail_first,
        fail_status=fail_status,
        secret=secret if secret is not None else settings.webhooks_secret,
        signature_header=settings.webhooks_signature_header,
        signature_algorithm=settings.webhooks_signature_algorithm,
    )
    with box.changed:
        box.receivers[name] = receiver
    _ROUTES.add(urllib.parse.unquote(path), receiver, box)
    return receiver


def webhook_url(name: str | None = None) -> str:
    """The URL of the running scenario's receiver ``name`` (None: the last declared)."""
    return _url_in(captures(), name)


def captures() -> Captures:
    """The running scenario's captures."""
    return _CAPTURES.current()


def webhook_server(*, restart_if_reconfigured: bool = False) -> WebhookServer:
    """The run's capture server, started on first use with the settings in force.

    With ``restart_if_reconfigured``, a server whose host or port differ from the
    settings is replaced by one that matches them.
    """
    server = _SHARED.get()
    settings = get_settings()
    if restart_if_reconfigured and not server.serves(
        settings.webhooks_host, settings.webhooks_port
    ):
        _SHARED.stop()
        server = _SHARED.get()
    return server


def stop_webhook_server() -> None:
    """Stop the run's capture server (at the end of a run); the next receiver starts one."""
    _SHARED.stop()


# --------------------------------------------------------------------------------------
# What the server calls


def _dispatch(request: Request) -> Response:
    """Record ``request`` for the receiver whose path it is on, and say how to answer."""
    path = _without_public_prefix(urllib.parse.unquote(request.path))
    receiver, box, relative = _ROUTES.route(path)
    if receiver is None or box is None:
        _record_stray(request, path)
        return Response(404, b"No webhook receiver at this path.\n", _TEXT)
    signature, problem = Signature.UNCHECKED, None
    if receiver.secret is not None and request.oversize is not None:
        signature = Signature.TOO_LARGE  # its body was not read, so it cannot be checked
    elif receiver.secret is not None:
        problem = check_signature(
            _header(request, receiver.signature_header),
            request.body,
            receiver.secret,
            algorithm=receiver.signature_algorithm,
            header=receiver.signature_header,
        )
        signature = Signature.VALID if problem is None else _kind_of(problem)
    call = Call(
        receiver=receiver.name,
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        received_at=request.received_at,
        relative_path=relative,
        signature=signature,
        masked=frozenset({receiver.signature_header.lower()}),
    )
    owner = _correlation_id(call)
    foreign = owner is not None and box.correlation_id is not None and owner != box.correlation_id
    if request.oversize is not None:
        limit = get_settings().webhooks_max_body_size
        answer = Response(413, b"Body too large.\n", _TEXT)
        note: str | None = (
            f"a body of {request.oversize:,} bytes, over the limit of {limit:,} "
            "(setting asyncbdd.webhooks.max_body_size)"
        )
    elif problem is not None:
        answer, note = Response(401, b"Invalid signature.\n", _TEXT), problem
    else:
        answer, note = _answer(receiver, box, call, planned_failure=not foreign)
    if foreign:  # counted for nobody, but still shown with why it was refused, if it was
        owned = f"correlation id {owner}, another scenario's"
        note = owned if note is None else f"{owned}; {note}"
    recorded = dataclasses.replace(call, status=answer.status, note=note)
    with box.changed:
        (box.others if foreign else box.calls[receiver.name]).append(recorded)
        box.changed.notify_all()
    return answer


def _report_error(request: Request | None, error: BaseException) -> None:
    """Keep an error of the server thread where the waiting step raises it."""
    path = _without_public_prefix(urllib.parse.unquote(request.path)) if request else ""
    receiver, box, _ = _ROUTES.route(path) if request else (None, None, "")
    boxes = [box] if box is not None else _ROUTES.witnesses(path)[0]
    for box in boxes:
        with box.changed:
            box.errors[receiver.name if receiver is not None else ""] = error
            box.changed.notify_all()


# --------------------------------------------------------------------------------------


def _without_public_prefix(path: str) -> str:
    """``path`` without the path of the public URL, if a proxy forwarded it with it."""
    public = get_settings().webhooks_public_url
    prefix = urllib.parse.urlsplit(public).path.rstrip("/") if public else ""
    if prefix and path.startswith(f"{prefix}{PATH_PREFIX}/"):
        return path[len(prefix) :]
    return path


def _record_stray(request: Request, path: str) -> None:
    boxes, earlier = _ROUTES.witnesses(path)
    why = "a receiver of an earlier scenario" if earlier else "no receiver at this path"
    call = Call(
        receiver=None,
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        received_at=request.received_at,
        relative_path=request.path,
        status=404,
        note=why,
        masked=frozenset({get_settings().webhooks_signature_header.lower()}),
    )
    for box in boxes:
        with box.changed:
            box.strays.append(call)
            box.changed.notify_all()


def _answer(
    receiver: Receiver, box: Captures, call: Call, *, planned_failure: bool = True
) -> tuple[Response, str | None]:
    """How the receiver answers ``call``, and why when it is not its usual answer.

    Without ``planned_failure`` (another scenario's call) it gives its usual answer, and
    the call does not use up one of the failures planned for the scenario's own calls.
    """
    failing = False
    if planned_failure:
        with box.changed:
            failing = receiver.answered < receiver.fail_first
            receiver.answered += 1
    if failing:
        why = f"the receiver fails the first {_calls(receiver.fail_first)}"
        return Response(receiver.fail_status, delay=receiver.delay), why
    body: Any = receiver.body
    try:
        content, kind = _encoded(body(call) if callable(body) else body)
    except Exception as error:
        with box.changed:
            box.errors[receiver.name] = error
            box.changed.notify_all()
        why = f"its body function raised {error!r}"
        return Response(500, b"The receiver's body function failed.\n", _TEXT), why
    return Response(receiver.status, content, kind, receiver.delay), None


def _encoded(body: ResponseBody) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    try:
        return json.dumps(body).encode(), "application/json"
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"A webhook receiver answers text, bytes or a JSON document; {body!r} is none "
            f"({error})."
        ) from None


def _correlation_id(call: Call) -> str | None:
    """The correlation id ``call`` carries where the setting says, or None."""
    kind, _, name = get_settings().webhooks_correlation.partition(":")
    if kind == "header":
        return call.header(name.strip())
    if kind == "field" and call.json is not NOT_JSON:
        return field_text(call.json, name.strip())
    return None


def _header(request: Request, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in request.headers if key.lower() == wanted), None)


def _kind_of(problem: str) -> Signature:
    return Signature.MISSING if problem.startswith("no ") else Signature.INVALID


def _calls(count: int) -> str:
    return "call" if count == 1 else f"{count} calls"


def _checked_name(name: str) -> str:
    """``name`` stripped, when it can be one segment of a URL path; a call then reaches
    a receiver by its own URL only (see :func:`_route`)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(
            f"A webhook receiver needs a name, such as 'payment-complete'; got {name!r}."
        )
    name = name.strip()
    if "/" in name:
        fix = "-".join(part for part in name.split("/") if part) or "payment-complete"
        raise InvalidInput(
            f'The webhook receiver "{name}" cannot be named with "/": a receiver\'s name '
            "is one segment of its URL, and a call to a path below that URL (<url>/b) is "
            f'the receiver\'s own call. Name it "{fix}" instead, and match a path below a '
            "receiver's URL with the call's path."
        )
    if name in (".", ".."):
        raise InvalidInput(
            f'The webhook receiver "{name}" cannot be named so: HTTP clients drop "." and '
            '".." from URLs, so no call would reach it; give it a name such as '
            '"payment-complete".'
        )
    return name


def _check_status(name: str, what: str, status: int, lowest: int) -> None:
    if isinstance(status, bool) or not isinstance(status, int) or not lowest <= status <= 599:
        raise InvalidInput(
            f'Webhook receiver "{name}": {what} is an HTTP status from {lowest} to 599; '
            f"got {status!r}."
        )


def _url_in(box: Captures, name: str | None) -> str:
    with box.changed:
        receivers = dict(box.receivers)
    if not receivers:
        raise AsyncBddError(
            "No webhook receiver is declared in this scenario, so there is no webhook URL. "
            + HOW_TO_DECLARE
        )
    if name is None:
        return list(receivers.values())[-1].url
    if name not in receivers:
        raise UnknownName("webhook receiver", name, receivers, HOW_TO_DECLARE)
    return receivers[name].url


def _running(api: str, name: str) -> Scenario:
    """The running scenario, for ``api``; outside one, an error saying how to start one."""
    scenario = running_scenario()
    if scenario is None:
        raise AsyncBddError(
            f"{api}({name!r}) declares a receiver of the running scenario, and no scenario "
            "is running. Under pytest, use the asyncbdd_scenario fixture, or declare it "
            "inside `with asyncbdd.scenario(...):`; under behave, call "
            "asyncbdd.hooks.install_hooks(globals()) in environment.py."
        )
    return scenario


def _begin(scenario: Scenario) -> Captures:
    """The captures of ``scenario``, which then receives stray calls until it ends."""
    box = Captures(
        scenario.scenario_id,
        started_at=scenario.started_at,
        correlation_id=scenario.correlation_id,
    )
    scenario.provide("webhook_url", lambda name: _url_in(box, name), argument="receiver")
    if not scenario.ended:  # an ended scenario runs no more cleanup, so it is not routed
        _ROUTES.open(box)
        scenario.on_end(lambda: _ROUTES.close(box))
    return box


class _Routes:
    """Which scenario each path of the capture server belongs to: run-scoped, as the
    server is.

    One server serves every scenario of the run, and its handler threads run in no
    scenario, so they find here the receiver and captures a call's path belongs to. It
    holds the receivers of the scenarios running now (several at once, in tasks or
    threads), whose captures also get the stray calls; a scenario that ends takes its
    routes away, and its id stays known so that a late call to it is reported as such.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[Receiver, Captures]] = {}
        self._running: dict[str, Captures] = {}
        self._ended: set[str] = set()

    def open(self, box: Captures) -> None:
        """Route stray calls to ``box`` too, until :meth:`close`."""
        with self._lock:
            self._running[box.scenario_id] = box

    def add(self, path: str, receiver: Receiver, box: Captures) -> None:
        """Route calls to ``path`` (unquoted), and below it, to ``receiver``'s ``box``."""
        with self._lock:
            self._routes[path] = (receiver, box)

    def close(self, box: Captures) -> None:
        """Its scenario ended: its paths answer 404, and it gets no more stray calls."""
        with self._lock:
            self._ended.add(box.scenario_id)
            if self._running.get(box.scenario_id) is box:
                del self._running[box.scenario_id]
            for receiver in box.receivers.values():
                self._routes.pop(urllib.parse.unquote(receiver.path), None)

    def route(self, path: str) -> tuple[Receiver | None, Captures | None, str]:
        """The receiver and captures ``path`` is a call to, and the path below the
        receiver's URL; ``(None, None, path)`` for a path of no receiver."""
        with self._lock:
            found = self._routes.get(path)
            relative = ""
            if found is None:  # a path below a receiver's URL: <url>/orders/1
                base = path
                while found is None and base.count("/") > 3:
                    base = base.rsplit("/", 1)[0]
                    found = self._routes.get(base)
                relative = path[len(base) :]
        if found is None:
            return None, None, path
        return found[0], found[1], relative

    def witnesses(self, path: str) -> tuple[list[Captures], bool]:
        """The captures that get a stray call to ``path``, and whether the path is an
        ended scenario's: the scenario whose id the path carries if it runs, or else
        every scenario running."""
        parts = path.split("/")
        owner = parts[2] if len(parts) > 3 and parts[1] == PATH_PREFIX[1:] else None
        with self._lock:
            if owner in self._running:
                return [self._running[owner]], False
            return list(self._running.values()), owner in self._ended


def _new_server() -> WebhookServer:
    settings = get_settings()
    return WebhookServer(
        _dispatch,
        host=settings.webhooks_host,
        port=settings.webhooks_port,
        body_limit=lambda: get_settings().webhooks_max_body_size,
        on_error=_report_error,
    )


_CAPTURES = Slot("webhook captures", _begin)
_ROUTES = _Routes()
_SHARED = RunScoped(
    _new_server,
    label="the webhook capture server",
)
on_scenario_start(_CAPTURES.of)
