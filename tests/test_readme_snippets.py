"""Every Python snippet of README.md runs, in the way that fits it, and does what it says.

Each ```python block is found under its heading and matched, by a line of its text, to
one way of running it (:data:`WAYS`): executed here as a module, in a namespace holding
stand-ins for the reader's own objects only (``helpdesk``, ``my_api``: what the README
says is yours), so that a library name the snippet uses must exist as written; or as a
file of a scratch project in a temporary directory, run as a reader would run it: behave
(``python -m behave``) on the README's own feature, or pytest in a process of its own.
A snippet that no way matches, or a way whose snippet is gone, fails
:func:`test_every_python_snippet_has_one_way_to_run`. The cases are named by heading and
line, and a traceback of an executed snippet points at its line in README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import asyncbdd
from asyncbdd.probes import PROBES, read_probe
from asyncbdd.queues.aliases import queue_from_spec
from asyncbdd.queues.base import Queue
from asyncbdd.queues.transports import transport_named, transport_options, unregister_transport
from asyncbdd.traces import recorded_evidence

README = Path(__file__).resolve().parents[1] / "README.md"
FIVE_MINUTES = "Test your own service in five minutes"
PYTEST = "Using asyncbdd with pytest"
ASYNC = "Async tests and async steps"
RUN_TIMEOUT = 240.0
"""The longest a scratch project's run may take (it takes a few seconds)."""


@dataclass(frozen=True)
class Snippet:
    """A fenced code block of README.md."""

    heading: str
    line: int
    """The line of its opening fence (its first line of code is the next)."""
    language: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.heading} (line {self.line})"

    def compiled(self) -> Any:
        """Its code, compiled so that a traceback names README.md and the line there."""
        return compile("\n" * self.line + self.text, str(README), "exec")


def read_snippets() -> list[Snippet]:
    """Every fenced block of README.md, with the heading it is under (also indented ones,
    inside a list, without their indentation)."""
    found: list[Snippet] = []
    heading = "(top)"
    fence: tuple[int, str] | None = None  # the opening line and the block's language
    lines: list[str] = []
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence, lines = (number, stripped[3:].strip()), []
        elif fence is None and re.match(r"#+ ", line):
            heading = line.lstrip("#").strip()
        elif fence is not None and stripped == "```":
            code = textwrap.dedent("\n".join(lines)) + "\n"
            found.append(Snippet(heading, fence[0], fence[1], code))
            fence = None
        elif fence is not None:
            lines.append(line)
    return found


SNIPPETS = read_snippets()
PYTHON = [snippet for snippet in SNIPPETS if snippet.language == "python"]


def snippet(heading: str, marker: str, language: str = "python") -> Snippet:
    """The one ``language`` block under ``heading`` with a line containing ``marker``."""
    matches = [
        block
        for block in SNIPPETS
        if block.heading == heading and block.language == language and marker in block.text
    ]
    assert len(matches) == 1, (
        f"README.md should have one {language} block under {heading!r} with {marker!r}; "
        f"it has {len(matches)}. Update WAYS in {Path(__file__).name} to what README says."
    )
    return matches[0]


# --------------------------------------------------------------------------------------
# Stand-ins for the reader's own code
# --------------------------------------------------------------------------------------

SHOP = '''\
"""A stand-in for the reader's shop: its database (SQLite, shop.db) and API client."""
import json
import sqlite3
import threading
import uuid

DATABASE = "shop.db"

with sqlite3.connect(DATABASE) as db:
    db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, status TEXT)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS inventory "
        "(product_id TEXT PRIMARY KEY, quantity INTEGER, updated_at TEXT)"
    )


def status(order_id):
    with sqlite3.connect(DATABASE) as db:
        row = db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()
    return row and row[0]


def place(product_id, quantity, then=None):
    """Take the order; 50 ms later it is paid, then shipped, then ``then(order_id)``."""
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    with sqlite3.connect(DATABASE) as db:
        db.execute("INSERT INTO orders VALUES (?, 'pending')", (order_id,))

    def process():
        for new_status in ("paid", "shipped"):
            with sqlite3.connect(DATABASE) as db:
                db.execute("UPDATE orders SET status = ? WHERE id = ?", (new_status, order_id))
        if then is not None:
            then(order_id)

    threading.Timer(0.05, process).start()
    return order_id


class Api:
    def post(self, path, body, headers):
        assert path == "/orders" and headers["X-Correlation-Id"], (path, headers)
        order = json.loads(body)
        assert order["callback"].startswith("http://"), order
        return {"id": place(order["product"], 1)}


my_api = Api()
'''

SHOP_FIXTURES = '''\
"""The reader's own fixtures: an order placed through the shop, the shop's orders."""
import json

import pytest
import shop

from asyncbdd import sql_probe
from asyncbdd.queues import queue_named

sql_probe("the order status", "SELECT status FROM orders WHERE id = :order_id")


@pytest.fixture(scope="session")
def orders(asyncbdd_run):
    return shop


@pytest.fixture
def place_order(orders):
    def place(product_id, quantity, correlation_id=None):
        def send_messages(order_id):  # the shop copies the correlation id it was given
            if correlation_id is None:
                return
            bill = {"order_id": order_id, "currency": "EUR"}
            attributes = {"correlation_id": correlation_id, "event_type": "billing.requested"}
            queue_named("billing").send(json.dumps(bill), attributes=attributes)
            shipment = json.dumps({"order_id": order_id})
            queue_named("shipping").send(shipment, attributes={"correlation_id": correlation_id})

        return orders.place(product_id, quantity, then=send_messages)

    return place
'''

PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


class Helpdesk:
    """The helpdesk the probe snippet reads: 3 tickets open."""

    def count(self, status: str) -> int:
        return 3 if status == "open" else 0


class PigeonLoft(Queue):
    """The transport snippet's queue: a loft of carrier pigeons, which none ever reaches."""

    def __init__(self, alias: str, loft: str) -> None:
        super().__init__(alias)
        self.loft = loft

    def describe(self) -> str:
        return f"pigeon loft {self.loft!r}"

    def open(self) -> None:
        return

    def receive(self, wait: float) -> list[Any]:
        return []

    def send(self, body: str, *, attributes: Any, key: str | None = None) -> None:
        return


# --------------------------------------------------------------------------------------
# Scratch projects
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A finished run of a scratch project."""

    directory: Path
    returncode: int
    output: str

    def junit(self) -> dict[str, list[str]]:
        """Each test module's test outcomes (``passed``, ``failed`` ...), from pytest's
        JUnit XML."""
        outcomes: dict[str, list[str]] = {}
        results = self.directory / "results.xml"
        if not results.exists():
            return outcomes
        for case in ElementTree.parse(results).getroot().iter("testcase"):
            module = case.get("classname", "").split(".")[0]
            verdicts = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            outcomes.setdefault(module, []).append(verdicts[0] if verdicts else "passed")
        return outcomes


def write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(directory: Path, *command: str) -> Run:
    """Run ``python -m COMMAND`` in ``directory``, as a reader would: none of this
    process's ``ASYNCBDD_*`` settings (but a slow machine's timeout scale) reach it."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ASYNCBDD_") or name == "ASYNCBDD_TIMEOUT_SCALE"
    }
    finished = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Run(directory, finished.returncode, finished.stdout + finished.stderr)


def the_shop_in_behave(directory: Path) -> Run:
    """The five-minute guide's steps, environment and feature, against the stand-in shop."""
    write(
        directory,
        {
            "setup.cfg": "[behave.userdata]\nasyncbdd.database_url = sqlite:///shop.db\n",
            "shop.py": SHOP,
            "features/environment.py": snippet(FIVE_MINUTES, "install_hooks(globals())").text,
            "features/steps/asyncbdd_steps.py": snippet(FIVE_MINUTES, "asyncbdd.steps import").text,
            "features/steps/order_steps.py": "from shop import my_api  # the reader's client\n"
            + snippet(FIVE_MINUTES, "def step_order").text,
            "features/orders.feature": snippet(FIVE_MINUTES, "Feature: Orders", "gherkin").text,
        },
    )
    return run(directory, "behave", "--no-timings", "-f", "plain")


def async_steps_in_behave(directory: Path) -> Run:
    """The async steps of "Async tests and async steps" and their feature, beside the
    library's steps."""
    write(
        directory,
        {
            "features/environment.py": "from asyncbdd.hooks import install_hooks\n\n"
            "install_hooks(globals())\n",
            "features/steps/asyncbdd_steps.py": snippet(FIVE_MINUTES, "asyncbdd.steps import").text,
            "features/steps/payment_steps.py": snippet(ASYNC, "async def step_").text,
            "features/payments.feature": snippet(ASYNC, "Feature: Payments", "gherkin").text,
        },
    )
    return run(directory, "behave", "--no-timings", "-f", "plain")


def the_shop_in_pytest(directory: Path) -> Run:
    """The five-minute guide's pytest tests, with the reader's fixtures of the shop."""
    write(
        directory,
        {
            "pyproject.toml": '[tool.asyncbdd]\ndatabase_url = "sqlite:///shop.db"\n'
            'queues.billing = "sqs:billing"\nqueues.shipping = "sqs:shipping"\n',
            "pytest.ini": PYTEST_INI,
            "shop.py": SHOP,
            "conftest.py": SHOP_FIXTURES,
            "test_from_pytest.py": snippet(FIVE_MINUTES, "def test_order_ships").text,
        },
    )
    return run(directory, "pytest", "-p", "no:cacheprovider", "--junitxml=results.xml")


def the_plugin_in_pytest(directory: Path) -> Run:
    """The pytest section's settings and tests, and the async tests: each file named by
    the comment on its first line."""
    tests = [snippet(PYTEST, "# test_orders.py"), snippet(ASYNC, "# test_async_orders.py")]
    write(
        directory,
        {
            "pyproject.toml": snippet(PYTEST, "[tool.asyncbdd]", "toml").text,
            "pytest.ini": PYTEST_INI,
            **{file_name(test): test.text for test in tests},
        },
    )
    return run(directory, "pytest", "-p", "no:cacheprovider", "--junitxml=results.xml")


PROJECTS: dict[str, Callable[[Path], Run]] = {
    "the shop in behave": the_shop_in_behave,
    "async steps in behave": async_steps_in_behave,
    "the shop in pytest": the_shop_in_pytest,
    "the plugin in pytest": the_plugin_in_pytest,
}


class Projects:
    """Each scratch project, built and run once for the module's cases."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: dict[str, Run] = {}

    def run(self, name: str) -> Run:
        if name not in self.runs:
            directory = self.root / name.replace(" ", "-")
            directory.mkdir()
            self.runs[name] = PROJECTS[name](directory)
        return self.runs[name]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Projects:
    return Projects(tmp_path_factory.mktemp("readme"))


def file_name(test: Snippet) -> str:
    """The file a test snippet names on its first line (``# test_orders.py``)."""
    first = test.text.splitlines()[0]
    assert re.fullmatch(r"# test_\w+\.py", first), f"{test.name} should start with # test_....py"
    return first[2:]


def assert_behave_passed(outcome: Run, scenarios: int) -> None:
    assert outcome.returncode == 0, outcome.output
    assert f"{scenarios} scenario{'s' if scenarios > 1 else ''} passed, 0 failed" in outcome.output


def assert_tests_passed(outcome: Run, module: str, test: Snippet) -> None:
    """Every test the snippet defines ran, in ``module``, and passed."""
    defined = len(re.findall(r"^(?:async )?def test_", test.text, flags=re.MULTILINE))
    assert outcome.junit().get(module) == ["passed"] * defined, outcome.output


# --------------------------------------------------------------------------------------
# The ways, and what each checks
# --------------------------------------------------------------------------------------

Way = Callable[[Snippet, Projects], None]
WAYS: dict[tuple[str, str], Way] = {}
"""(heading, a line of the snippet) -> how to run it."""


def way(heading: str, marker: str) -> Callable[[Way], Way]:
    def register(function: Way) -> Way:
        WAYS[(heading, marker)] = function
        return function

    return register


@way(FIVE_MINUTES, "from asyncbdd.steps import *")
@way(FIVE_MINUTES, "install_hooks(globals())")
@way(FIVE_MINUTES, "def step_order")
def in_the_shops_behave_project(_: Snippet, projects: Projects) -> None:
    """The steps file, environment.py and the reader's step: the guide's feature passes."""
    assert_behave_passed(projects.run("the shop in behave"), 1)


@way(FIVE_MINUTES, '@probe("the number of open tickets")')
def as_a_probe_module(snippet: Snippet, _: Projects) -> None:
    with PROBES.isolated():
        exec(snippet.compiled(), {"__name__": "readme_probe", "helpdesk": Helpdesk()})
        assert read_probe("the number of open tickets")() == 3


@way(FIVE_MINUTES, "def test_order_ships")
def in_the_shops_pytest_project(snippet: Snippet, projects: Projects) -> None:
    assert_tests_passed(projects.run("the shop in pytest"), "test_from_pytest", snippet)


@way("Trace correlation", "record_evidence")
def as_a_step_recording_evidence(snippet: Snippet, _: Projects) -> None:
    answer = {"order_id": "ord-1", "status": "accepted"}
    stand_ins = {"post": lambda path, order: answer, "order": {"product": "prod-789"}}
    with asyncbdd.scenario("README: record evidence"):
        exec(snippet.compiled(), {"__name__": "readme_evidence", **stand_ins})
        [event] = recorded_evidence()
    assert (event.type, dict(event.attributes)) == ("order accepted", answer)


@way("Writing your own transport", "register_transport(")
def as_a_transport_module(snippet: Snippet, _: Projects) -> None:
    try:
        exec(snippet.compiled(), {"__name__": "readme_transport", "PigeonLoft": PigeonLoft})
        assert transport_named("pigeon").build is PigeonLoft
        assert transport_options("pigeon") == {"url": "pigeon://127.0.0.1"}
        loft = queue_from_spec("loft", "pigeon:loft-7")
        assert isinstance(loft, PigeonLoft)
        assert loft.loft == "loft-7"
    finally:
        unregister_transport("pigeon")


@way(PYTEST, "# test_orders.py")
@way(ASYNC, "# test_async_orders.py")
def in_the_plugins_pytest_project(snippet: Snippet, projects: Projects) -> None:
    module = file_name(snippet).removesuffix(".py")
    assert_tests_passed(projects.run("the plugin in pytest"), module, snippet)


@way(ASYNC, "async def step_")
def in_the_async_behave_project(_: Snippet, projects: Projects) -> None:
    assert_behave_passed(projects.run("async steps in behave"), 1)


def ways_of(block: Snippet) -> list[Way]:
    return [
        run
        for (heading, marker), run in WAYS.items()
        if heading == block.heading and marker in block.text
    ]


def test_every_python_snippet_has_one_way_to_run() -> None:
    """A new snippet needs a way here; a way whose snippet was changed or removed goes."""
    unmatched = [block.name for block in PYTHON if len(ways_of(block)) != 1]
    assert not unmatched, f"Give each of these README snippets one way to run in WAYS: {unmatched}"
    stale = [
        key
        for key in WAYS
        if not any(block.heading == key[0] and key[1] in block.text for block in PYTHON)
    ]
    assert not stale, f"No README snippet is run by these WAYS any more: {stale}"


@pytest.mark.parametrize("block", PYTHON, ids=[block.name for block in PYTHON])
def test_the_snippet_runs(block: Snippet, projects: Projects) -> None:
    ways = ways_of(block)
    assert len(ways) == 1, f"{block.name} should have one way to run in WAYS, not {len(ways)}"
    ways[0](block, projects)
