"""Check that installing asyncbdd changes nothing an app already has, and measure the install.

Run from the repository root (it needs the package index, and takes a few minutes)::

    python3 tests/install/check_install.py

1. In a fresh virtualenv holding an app's versions (kafka-python 3.0.12, confluent-kafka
   2.6.1, pydantic 1.10), it installs asyncbdd from this checkout, then
   ``asyncbdd[kafka]``, and fails if ``pip freeze`` shows any of the app's packages at
   another version afterwards; it then imports the library's steps there.
2. In another fresh virtualenv it times ``pip install`` of the checkout and measures the
   size of site-packages, then does the same for the ``sqs`` and ``kafka`` extras on top.

It prints one row per figure in the benchmarks' table format (bench/core.py) and exits 1
if a version changed or a figure misses its target. Times include building asyncbdd's
wheel and are measured with pip's download cache as this machine has it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.core import Result, format_table  # noqa: E402

APP = {"kafka-python": "3.0.12", "confluent-kafka": "2.6.1", "pydantic": "1.10.*"}
"""What the app holds before asyncbdd arrives (pydantic: the newest 1.10 release)."""
SIZE_TARGET_MB = 200.0
TIME_TARGET_SECONDS = 25.0


def main() -> int:
    """Run both checks, print the table, and return the exit status."""
    with tempfile.TemporaryDirectory(prefix="asyncbdd-install-") as scratch:
        before, changed = check_nothing_changes(Path(scratch) / "app")
        results = measure_install(Path(scratch) / "fresh")
    print(format_table(results))
    for line in changed:
        print(f"CHANGED: {line}")
    missed = [result.name for result in results if result.met is False]
    for name in missed:
        print(f"MISSED TARGET: {name}")
    if not changed:
        print("unchanged: " + ", ".join(f"{name} {before[name]}" for name in sorted(before)))
    return 1 if changed or missed else 0


def check_nothing_changes(venv: Path) -> tuple[dict[str, str], list[str]]:
    """Install the app's versions, then asyncbdd and asyncbdd[kafka]; return the app's
    versions and what changed."""
    python = make_venv(venv)
    pip(python, *(f"{name}=={version}" for name, version in APP.items()))
    before = freeze(python)
    problems = []
    for target in (str(ROOT), f"{ROOT}[kafka]"):
        pip(python, target)
        after = freeze(python)
        for name, version in before.items():
            if after.get(name) != version:
                problems.append(f"pip install {target}: {name} {version} -> {after.get(name)}")
    subprocess.run(
        [str(python), "-c", "import asyncbdd.steps, asyncbdd.queues.kafka"],
        check=True,
        cwd=venv,
    )
    return before, problems


def measure_install(venv: Path) -> list[Result]:
    """Time and size ``pip install asyncbdd`` in a fresh venv, then the sqs and kafka extras."""
    python = make_venv(venv)
    empty = site_packages_mb(python)
    results = []
    for label, target in (
        ("pip install asyncbdd", str(ROOT)),
        ("then asyncbdd[sqs,kafka]", f"{ROOT}[sqs,kafka]"),
    ):
        began = time.perf_counter()
        pip(python, target)
        seconds = time.perf_counter() - began
        size = site_packages_mb(python)
        base = label == "pip install asyncbdd"
        results += [
            Result(
                name=f"{label}: time",
                value=seconds,
                unit="s",
                baseline_name="target",
                baseline_value=TIME_TARGET_SECONDS,
                better=None,
                target=f"<= {TIME_TARGET_SECONDS:g} s" if base else "",
                met=seconds <= TIME_TARGET_SECONDS if base else None,
                benchmark="install",
            ),
            Result(
                name=f"{label}: site-packages",
                value=size,
                unit="MB",
                baseline_name="target",
                baseline_value=SIZE_TARGET_MB,
                better=None,
                target=f"<= {SIZE_TARGET_MB:g} MB" if base else "",
                met=size <= SIZE_TARGET_MB if base else None,
                note=f"an empty venv's is {empty:.0f} MB (pip, setuptools)",
                benchmark="install",
            ),
        ]
    return results


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def pip(python: Path, *requirements: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *requirements],
        check=True,
        stderr=subprocess.DEVNULL,  # the index's warnings about absent local mirrors
    )


def freeze(python: Path) -> dict[str, str]:
    """Installed distributions by normalised name -> version."""
    output = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    versions = {}
    for line in output.splitlines():
        name, _, version = line.partition("==")
        versions[name.lower().replace("_", "-")] = version
    return {name: versions[name] for name in versions if name in APP}


def site_packages_mb(python: Path) -> float:
    """The size of the venv's site-packages, in MB (du's allocated blocks)."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    output = subprocess.run(["du", "-sk", site], check=True, capture_output=True, text=True)
    return int(output.stdout.split()[0]) / 1024


if __name__ == "__main__":
    sys.exit(main())
