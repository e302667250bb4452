"""An embedded SQS endpoint for tests: moto's HTTP server, in a thread of this process.

:class:`EmbeddedSqs` serves moto's SQS over real HTTP on 127.0.0.1 and a port the operating
system picks (or one you choose); boto3 talks to it by ``endpoint_url`` exactly as it talks
to AWS.
:func:`shared_embedded_sqs` starts one lazily and shares it with the whole run;
:func:`sqs_client` builds a client for a *configured* endpoint (AWS, LocalStack) instead;
:func:`check_reachable` turns an unreachable endpoint into a prompt, readable error.

Facts about moto's SQS server that callers must respect (moto 5.2):

* moto keeps its queues in process-global memory: every :class:`EmbeddedSqs` in a process
  serves the *same* queues, they survive :meth:`~EmbeddedSqs.stop` and a later start, and
  ``moto.mock_aws`` (which resets all backends when it starts and when it stops) wipes
  them: :func:`embedded_state_reset` tells. Use unique queue names per test or scenario,
  never a fresh server, to isolate.
* other processes reach the queues only through :attr:`~EmbeddedSqs.endpoint_url`; the
  server lives as long as the process that started it.
* long polling is event-driven for new messages (a waiting receive returns milliseconds
  after a send), but a message that becomes visible again (visibility timeout, delay) is
  noticed by a waiting receive only on moto's 1 s re-check.
* real SQS, and moto from 5.2.4 on, allow one ``PurgeQueue`` per queue per 60 s (the
  second fails with ``PurgeQueueInProgress``); moto before 5.2.4 silently allows any
  number. Either way, isolation between scenarios cannot rely on purging.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ConnectTimeoutError, ReadTimeoutError

from asyncbdd.config import get_settings
from asyncbdd.errors import AsyncBddError, ConfigurationError
from asyncbdd.infra.run_scoped import EmbeddedService, RunScoped
from asyncbdd.secrets import mask_url, mask_urls_in

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer
    from types_boto3_sns.client import SNSClient
    from types_boto3_sqs.client import SQSClient

__all__ = [
    "EMBEDDED_REGION",
    "ENDPOINT_SETTING",
    "LONGEST_RECEIVE_WAIT",
    "MOCK_AWS_RESET",
    "RETRIES",
    "EmbeddedSqs",
    "EmbeddedSqsError",
    "SqsUnavailable",
    "call_timeouts",
    "check_reachable",
    "embedded_state_reset",
    "mark_embedded_state",
    "shared_embedded_sqs",
    "sqs_client",
]

EMBEDDED_REGION = "us-east-1"
"""Region the embedded server's clients sign for (moto keeps queues per region)."""

ENDPOINT_SETTING = "asyncbdd.sqs.endpoint"
"""The setting that points asyncbdd at an SQS endpoint instead of the embedded one."""

LONGEST_RECEIVE_WAIT = 1
"""Longest long poll (``WaitTimeSeconds``) asyncbdd's receives ask for, in seconds: its
readers poll a second at a time, so that a read timeout just above it (see
:func:`call_timeouts`) tells an endpoint that stopped answering within seconds."""

RETRIES = 1
"""Retries of a failed call (botocore's standard mode: a refused or dropped connection,
throttling, a 5xx answer). A call that timed out is not retried: it has had its time, so
a call to an endpoint that never answers fails within connect + read timeout
(:func:`call_timeouts`)."""


MOCK_AWS_RESET = (
    "moto.mock_aws reset moto's state in this process, which the embedded SQS server "
    "serves, so its queues are gone. Keep mock_aws out of the tests that use asyncbdd's "
    "SQS queues and out of their fixtures (under pytest, asyncbdd makes its queues again "
    "before the next test), or set asyncbdd.sqs.endpoint to an SQS server of its own: a "
    "moto server in another process (moto_server -p 5000), or LocalStack."
)
"""Why the embedded server's queues are gone, and the fix, when :func:`embedded_state_reset`."""


class EmbeddedSqsError(AsyncBddError):
    """The embedded SQS server could not start, or was used in the wrong state."""


class SqsUnavailable(AsyncBddError):
    """An SQS endpoint could not be reached within the connect timeout."""


class EmbeddedSqs(EmbeddedService):
    """moto's SQS served over HTTP on 127.0.0.1 and a free port, in a daemon thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with EmbeddedSqs() as sqs:
            client = sqs.client()
            queue_url = client.create_queue(QueueName="billing")["QueueUrl"]

    ``port`` fixes the port to listen on (default 0: a free one the operating system
    picks). The queues are moto's process-global state (see the module's notes): servers
    in one process share them, and they outlive :meth:`stop`.
    """

    def __init__(self, *, port: int = 0) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= _MAX_PORT:
            raise EmbeddedSqsError(
                f"EmbeddedSqs(port={port!r}) is invalid: pass a TCP port from 1 to "
                f"{_MAX_PORT}, or 0 (the default) for a free one."
            )
        self.port = port
        self.startup_seconds: float | None = None
        """Seconds :meth:`start` took (moto's import excluded when it was imported before)."""
        self._server: ThreadedMotoServer | None = None
        self._endpoint_url: str | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the server was started and has not been stopped."""
        return self._server is not None

    @property
    def endpoint_url(self) -> str:
        """The ``http://127.0.0.1:<port>`` URL that boto3 clients use as ``endpoint_url``."""
        if self._endpoint_url is None:
            raise EmbeddedSqsError(
                "The embedded SQS server has no endpoint URL because it is not running; "
                "call start() first, or use it as a context manager "
                "('with EmbeddedSqs() as sqs: ...')."
            )
        return self._endpoint_url

    def start(self) -> str:
        """Start serving on the loopback port and return the endpoint URL.

        Raises :class:`EmbeddedSqsError` when the server is already running, when the
        fixed ``port`` is taken, or when moto's server is not installed.
        """
        with self._lock:
            if self._server is not None:
                raise EmbeddedSqsError(
                    f"The embedded SQS server is already running at {self._endpoint_url}; "
                    "call stop() before starting it again, or share the running one "
                    "(shared_embedded_sqs())."
                )
            began = time.perf_counter()
            try:
                from moto.server import ThreadedMotoServer  # noqa: PLC0415 (~0.3 s to import)
            except ImportError as error:
                raise EmbeddedSqsError(
                    f"The embedded SQS server needs moto's server, which is not importable "
                    f"({error}); run \"pip install 'asyncbdd[sqs]'\", or configure "
                    f"{ENDPOINT_SETTING} to an SQS endpoint you run yourself."
                ) from None
            if self.port:
                _check_port_free(self.port)
            _quiet_request_log()
            server = ThreadedMotoServer(ip_address=_HOST, port=self.port, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            self._server = server
            self._endpoint_url = f"http://{host}:{port}"
            mark_embedded_state()
            self.startup_seconds = time.perf_counter() - began
            return self._endpoint_url

    def stop(self) -> None:
        """Stop serving and close the port; stopping a stopped server does nothing.

        The queues stay in moto's memory.
        """
        with self._lock:
            server, self._server, self._endpoint_url = self._server, None, None
            if server is not None:
                server.stop()

    def client(
        self,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> SQSClient:
        """Return a boto3 SQS client for this server that reads no AWS configuration.

        Region and dummy credentials are set on the client, and the AWS profile is
        ignored, so neither ``~/.aws`` nor ``AWS_*`` variables can change or break it.
        The timeouts default to :func:`call_timeouts`.
        """
        client: SQSClient = self._client("sqs", connect_timeout, read_timeout)
        return _timeouts_not_retried(client)

    def sns_client(self) -> SNSClient:
        """Return a boto3 SNS client for this server, built as :meth:`client` builds one
        (moto serves every AWS service on one port)."""
        client: SNSClient = self._client("sns", None, None)
        return client

    def _client(self, service: str, connect: float | None, read: float | None) -> Any:
        session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        return boto3.session.Session(botocore_session=session).client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=EMBEDDED_REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # moto accepts any credentials
            config=_client_config(connect, read),
        )

    def __repr__(self) -> str:
        state = f"running at {self._endpoint_url}" if self.running else "stopped"
        return f"<EmbeddedSqs {state}>"


def shared_embedded_sqs() -> EmbeddedSqs:
    """Return the run's embedded SQS server, starting it on first call; it stops at exit.

    Every caller in the process gets the same server. Other processes (a system under
    test started separately) reach it through its :attr:`~EmbeddedSqs.endpoint_url`.
    """
    return _SHARED.get()


def embedded_sqs_running() -> bool:
    """Whether the run's embedded SQS server has started and runs (asking starts nothing)."""
    return _SHARED.running


def embedded_state_reset() -> bool:
    """Whether the run's embedded SQS server runs, and moto's in-process state that it
    serves was reset since the server started (or since :func:`mark_embedded_state`).

    ``moto.mock_aws`` resets every moto backend of the process when it starts and when it
    stops (so does moto's reset API): the queues, their messages and the SNS topics of the
    embedded server are then gone. Asking costs no request.
    """
    marked = _marked[0]
    return marked is not None and _SHARED.running and not getattr(marked, _MARK, False)


def mark_embedded_state() -> None:
    """Take moto's state as it is now as the embedded server's: from now on,
    :func:`embedded_state_reset` tells whether something resets it."""
    try:
        from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        # A reset re-creates every backend object empty (moto 5: ``BaseBackend.reset``), so
        # an attribute set on any one of them disappears with the state.
        backend: object = sqs_backends[DEFAULT_ACCOUNT_ID][EMBEDDED_REGION]
        setattr(backend, _MARK, True)
    except (ImportError, LookupError, AttributeError, TypeError):
        backend = None  # a moto laid out otherwise: a reset is not told apart
    _marked[0] = backend


def sqs_client(
    endpoint_url: str | None,
    region: str | None,
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> SQSClient:
    """Return a boto3 SQS client for a configured endpoint (AWS, LocalStack, a shared moto).

    Credentials come from boto3's standard chain (environment, profile, SSO, instance
    role); ``endpoint_url`` ``None`` means AWS's own endpoint for the region; ``region``
    ``None`` means the chain's region (``AWS_DEFAULT_REGION``, the profile). Timeouts and
    retries are those of :meth:`EmbeddedSqs.client` (:func:`call_timeouts`,
    :data:`RETRIES`). Raises :class:`ConfigurationError` when no region can be found or
    the AWS profile does not exist.
    """
    client: SQSClient = _configured_client(
        "sqs", endpoint_url, region, connect_timeout, read_timeout
    )
    return _timeouts_not_retried(client)


def sns_client(endpoint_url: str | None, region: str | None) -> SNSClient:
    """Return a boto3 SNS client for the endpoint and region of SQS queues, built as
    :func:`sqs_client` builds one (for reading a shared queue through a tap)."""
    client: SNSClient = _configured_client("sns", endpoint_url, region, None, None)
    return client


def _configured_client(
    service: str,
    endpoint_url: str | None,
    region: str | None,
    connect_timeout: float | None,
    read_timeout: float | None,
) -> Any:
    try:
        session = boto3.session.Session(region_name=region)
        if session.region_name is None:
            raise ConfigurationError(
                f"No AWS region is configured for the SQS endpoint "
                f"{mask_url(endpoint_url or '(AWS default)')}; set asyncbdd.sqs.region, or "
                "AWS_DEFAULT_REGION, or a region in your AWS profile."
            )
        return session.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint_url,
            config=_client_config(connect_timeout, read_timeout),
        )
    except (BotoCoreError, ValueError) as error:  # ProfileNotFound, a malformed URL, ...
        raise ConfigurationError(
            f"Cannot build an {service.upper()} client for endpoint "
            f"{mask_url(endpoint_url or '(AWS default)')} "
            f"in region {region or '(from the AWS configuration)'}: "
            f"{mask_urls_in(str(error))}. Fix "
            f"{ENDPOINT_SETTING} or the AWS configuration (AWS_PROFILE, ~/.aws/config)."
        ) from error


def call_timeouts(connect_timeout: float | None = None) -> tuple[float, float]:
    """The connect and read timeouts of asyncbdd's SQS clients, in seconds.

    The connect timeout is ``connect_timeout``, by default the ``asyncbdd.connect_timeout``
    setting; the read timeout is :data:`LONGEST_RECEIVE_WAIT` more than that (at least
    1 s more), so that a long poll always ends before its read times out. An attempt
    blocks at most connect + read seconds, and one that timed out is not retried.
    """
    connect = get_settings().connect_timeout if connect_timeout is None else connect_timeout
    return connect, LONGEST_RECEIVE_WAIT + max(connect, 1.0)


def check_reachable(endpoint_url: str, timeout: float | None = None) -> None:
    """Raise :class:`SqsUnavailable` unless a TCP connection to ``endpoint_url`` opens.

    Proves that something listens there, not that it speaks SQS. ``timeout`` defaults to
    the ``asyncbdd.connect_timeout`` setting; a refused connection fails at once. A URL
    without scheme or host raises :class:`ConfigurationError`.
    """
    parts = urlsplit(endpoint_url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ConfigurationError(
            f"SQS endpoint {mask_url(endpoint_url)!r} is not a valid URL; set {ENDPOINT_SETTING} "
            "to one like 'http://localhost:4566' or 'https://sqs.eu-west-1.amazonaws.com'."
        )
    seconds = get_settings().connect_timeout if timeout is None else timeout
    default_port = 443 if parts.scheme == "https" else 80
    try:
        with socket.create_connection((parts.hostname, port or default_port), seconds):
            pass
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else error.strerror or error
        raise SqsUnavailable(
            f"The SQS endpoint {mask_url(endpoint_url)} is not reachable within {seconds:g} s "
            f"({reason}). Start the SQS service there, or set {ENDPOINT_SETTING} to an "
            "endpoint that runs (leave it unset to use the embedded SQS server); "
            "asyncbdd.connect_timeout bounds how long to try."
        ) from None


_SHARED = RunScoped(
    EmbeddedSqs,
    label="the embedded SQS server (asyncbdd.sqs.endpoint is unset)",
)
_HOST = "127.0.0.1"
_MAX_PORT = 65535
_MARK = "_asyncbdd_embedded_state"
_marked: list[object | None] = [None]
"""A backend object of moto holding :data:`_MARK` while moto's state is the one marked."""


def _client_config(connect_timeout: float | None, read_timeout: float | None) -> Config:
    connect, read = call_timeouts(connect_timeout)
    return Config(
        connect_timeout=connect,
        read_timeout=read if read_timeout is None else read_timeout,
        retries={"max_attempts": RETRIES, "mode": "standard"},
        max_pool_connections=32,  # several queues drained concurrently share one client
    )


def _timeouts_not_retried(client: SQSClient) -> SQSClient:
    """``client``, made to fail a call that timed out at once rather than retry it."""
    client.meta.events.register_first("needs-retry.sqs", _fail_timeouts_at_once)
    return client


def _fail_timeouts_at_once(caught_exception: BaseException | None = None, **_: Any) -> None:
    """A ``needs-retry`` handler: botocore asks every handler whether to retry, and one that
    raises ends the call with that error, whatever the others answer."""
    if isinstance(caught_exception, ConnectTimeoutError | ReadTimeoutError):
        raise caught_exception


def _check_port_free(port: int) -> None:
    """Raise :class:`EmbeddedSqsError` unless ``port`` can be bound on the loopback address.

    moto's server thread, given a taken port, prints to stderr and never signals that it
    is ready, so its start would hang; this check turns that into an error first. It
    binds the way that server does (``SO_REUSEADDR``), so a port left in TIME_WAIT by a
    server that just stopped counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((_HOST, port))
        except OSError as error:
            raise EmbeddedSqsError(
                f"The embedded SQS server cannot listen on {_HOST}:{port}: "
                f"{error.strerror or error}. Stop the program that uses port {port}, or "
                "choose another port (0 picks a free one)."
            ) from None


def _quiet_request_log() -> None:
    """Keep werkzeug from logging every request to stderr, unless someone configured it."""
    logger = logging.getLogger("werkzeug")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
