"""Run the demo order service until Ctrl-C: ``python -m asyncbdd.demo --help``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sqlalchemy import make_url

from asyncbdd.demo.faults import Fault, parse_faults
from asyncbdd.demo.service import DEFAULT_DATABASE_URL, OrderService


def main(argv: Sequence[str] | None = None) -> int:
    """Start the service, print where it listens, and stop it cleanly on Ctrl-C or SIGTERM."""
    arguments = _parser().parse_args(argv)
    # A shell starts background jobs with SIGINT ignored; kill -INT must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    service = OrderService(
        arguments.database_url, host=arguments.host, port=arguments.port, faults=arguments.fault
    )
    service.start()
    try:
        print(f"order service: {service.url}", flush=True)
        print(f"database: {make_url(service.database_url).render_as_string()}", flush=True)
        if service.faults:
            print(f"faults: {', '.join(sorted(f.value for f in service.faults))}", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asyncbdd.demo",
        description="Run the asyncbdd demo order service until Ctrl-C.",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="SQLAlchemy URL of its database (default: %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    parser.add_argument(
        "--fault",
        type=_faults,
        action="extend",
        default=[],
        metavar="NAME[,NAME]",
        help="misbehave on purpose; repeatable; one of: " + ", ".join(f.value for f in Fault),
    )
    return parser


def _faults(text: str) -> frozenset[Fault]:
    try:
        return parse_faults(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
