"""Child process that hosts librdkafka's mock Kafka cluster for :mod:`asyncbdd.infra.kafka_broker`.

Run as ``python path/to/_kafka_mock_cluster.py [--brokers N]``. It creates the mock cluster
inside a ``confluent_kafka.Producer`` (``test.mock.num.brokers``), prints the cluster's
bootstrap servers (``127.0.0.1:PORT[,...]``) as one line on stdout, and then serves until
its stdin reaches end of file (the parent closed it, or died) or it receives SIGTERM or
SIGINT. It exits 0 when stopped, 2 on bad arguments, 3 when the cluster cannot start.

Only the standard library is imported at module level, so the program runs by file path
without importing the ``asyncbdd`` package (which would add hundreds of milliseconds).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

USAGE = "usage: _kafka_mock_cluster.py [--brokers N]"
METADATA_TIMEOUT_SECONDS = 10.0


def main(argv: list[str] | None = None) -> int:
    """Start the mock cluster, print its bootstrap servers, serve until told to stop."""
    arguments = sys.argv[1:] if argv is None else argv
    brokers = _parse_brokers(arguments)
    if brokers is None:
        print(f"{USAGE}\ngot: {arguments!r}", file=sys.stderr)
        return 2
    _forget_own_directory()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        # Deferred import: keeps this file importable (and its usage error readable)
        # without confluent-kafka installed.
        from confluent_kafka import KafkaException, Producer  # noqa: PLC0415
    except ImportError as error:
        print(
            f"confluent-kafka is not importable ({error}); install it with "
            "\"pip install 'asyncbdd[kafka]'\" to use the embedded Kafka broker.",
            file=sys.stderr,
        )
        return 3
    try:
        # The Producer owns the mock cluster; it must stay referenced while we serve.
        host = Producer({"test.mock.num.brokers": brokers, "log_level": 4})
        metadata = host.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
    except KafkaException as error:
        print(f"librdkafka's mock cluster did not start: {error}", file=sys.stderr)
        return 3
    addresses = [f"{b.host}:{b.port}" for _, b in sorted(metadata.brokers.items())]
    print(",".join(addresses), flush=True)
    try:
        while sys.stdin.buffer.read(65536):
            pass  # the parent never writes; anything it does write is ignored
    except _Stopped:
        pass
    del host
    return 0


class _Stopped(Exception):
    """Raised by the signal handler to leave the serving loop."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


def _parse_brokers(arguments: list[str]) -> int | None:
    if not arguments:
        return 1
    if len(arguments) == 2 and arguments[0] == "--brokers" and arguments[1].isdigit():
        count = int(arguments[1])
        return count if count >= 1 else None
    return None


def _forget_own_directory() -> None:
    """Drop this file's folder from ``sys.path``: run as a script, Python put it first,
    and sibling modules must not shadow anything confluent-kafka imports."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]


if __name__ == "__main__":
    sys.exit(main())
