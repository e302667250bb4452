"""Run the Kafka tests' essentials under kafka-python 3.0.12 (the suite runs the installed one).

Run from the repository root, after ``python3 -m pip install -e ".[test]"`` (it needs the
package index, and takes about a minute)::

    python3 tests/install/check_kafka_python_3.py [more pytest arguments]

It makes a virtualenv that sees this interpreter's packages (asyncbdd, pytest,
confluent-kafka) but holds kafka-python 3.0.12 of its own, and runs there the tests of
sending, expecting, isolation between scenarios, outages and the embedded broker. It
exits with pytest's status.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KAFKA_PYTHON = "kafka-python==3.0.12"
ESSENTIALS = [
    "tests/queues/test_kafka_topics.py",
    "tests/queues/test_kafka_outages.py",
    "tests/infra/test_kafka_broker.py",
    "tests/queues/test_queue_isolation.py",
    "tests/queues/test_queue_expectations.py",
    "tests/queues/test_poison_messages.py",
    "tests/demo/test_demo_transports.py",
]
KAFKA_ONLY = ["-k", "kafka"]  # test or module names; pytest's -k ignores case
KNOWN_GAP = [
    # the demo run as a process of its own is not told that it talks to the embedded broker
    "--deselect",
    "tests/demo/test_demo_transports.py::test_command_line_reads_kafka_and_sends_to_sqs",
]


def main(arguments: list[str]) -> int:
    """Make the venv, install kafka-python 3.0.12 in it, run the essentials there."""
    with tempfile.TemporaryDirectory(prefix="asyncbdd-kafka3-") as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
        )
        python = venv / "bin" / "python"
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", KAFKA_PYTHON],
            check=True,
            stderr=subprocess.DEVNULL,  # pip's note that asyncbdd's old pin would refuse it
        )
        version = subprocess.run(
            [str(python), "-c", "import kafka; print(kafka.__version__)"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"kafka-python {version} in {venv}", flush=True)
        command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-W", "ignore::DeprecationWarning", *ESSENTIALS, *KAFKA_ONLY, *KNOWN_GAP]
        return subprocess.run([*command, *arguments], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
