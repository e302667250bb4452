"""`asyncbdd config`: the settings in force, where each came from, secrets masked, and
which embedded services a run would start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asyncbdd import cli
from asyncbdd.config import Settings, setting_key, setting_sources
from asyncbdd.queues.transports import transports
from asyncbdd.settings_report import embedded_services

ROOT = Path(__file__).resolve().parent.parent

SETUP_CFG = """\
[behave.userdata]
asyncbdd.timeout = 7 seconds
asyncbdd.grace = 2 s
asyncbdd.database_url = postgresql://app:s3cret-pw@db.internal/shop
asyncbdd.queues =
    billing = sqs:billing
    orders = kafka:order.created
team.owner = payments
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a setup.cfg, made current, with no ASYNCBDD_* variable set and a
    home directory of its own (behave reads config files there too)."""
    for name in list(os.environ):
        if name.startswith("ASYNCBDD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "setup.cfg").write_text(SETUP_CFG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _report(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict[str, tuple[str, str]]:
    """Run `asyncbdd config`; return each setting's (source, value) from its output."""
    assert cli.main(["config", *arguments]) == 0
    text = capsys.readouterr().out
    rows = {}
    for line in text.splitlines():
        match = re.fullmatch(r"  (asyncbdd\.\S+)\s{2,}(.+?)\s{2,}(.+)", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_each_setting_names_where_it_came_from(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defaults, setup.cfg, the environment and -D each show as the source, later winning."""
    monkeypatch.setenv("ASYNCBDD_GRACE", "1 s")
    monkeypatch.setenv("ASYNCBDD_WEBHOOKS_PORT", "8099")
    rows = _report(capsys, "-D", "asyncbdd.timeout_scale=2", "-D", "asyncbdd.webhooks.port=8100")
    assert rows["asyncbdd.timeout"] == ("setup.cfg", "7 s")
    assert rows["asyncbdd.grace"] == ("environment ASYNCBDD_GRACE", "1 s")
    assert rows["asyncbdd.timeout_scale"] == ("-D", "2")
    assert rows["asyncbdd.webhooks.port"] == ("-D", "8100")
    assert rows["asyncbdd.max_interval"] == ("default", "1 s")
    assert rows["asyncbdd.sqs.endpoint"] == ("default", "(unset)")
    assert rows["asyncbdd.queues"] == (
        "setup.cfg",
        "billing = sqs:billing, orders = kafka:order.created",
    )
    options = sum(len(transport.options) for transport in transports())
    assert len(rows) == len(Settings.__dataclass_fields__) - 1 + options  # each option a row


def test_a_transports_options_show_one_row_each_masked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _report(capsys, "-D", "asyncbdd.amqp.url=amqp://user:hunter2@broker/")
    assert rows["asyncbdd.amqp.url"] == ("-D", "amqp://user:***@broker/")
    assert rows["asyncbdd.sqs.sharing"] == ("default", "auto")
    assert "asyncbdd.transport_settings" not in rows


def test_secrets_are_masked(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database password, an endpoint's user:password and the webhook secret never show."""
    monkeypatch.setenv("ASYNCBDD_SQS_ENDPOINT", "http://queue-user:hunter2@127.0.0.1:4566")
    monkeypatch.setenv("ASYNCBDD_WEBHOOKS_SECRET", "whsec-planted")
    assert cli.main(["config"]) == 0
    text = capsys.readouterr().out
    for secret in ("s3cret-pw", "hunter2", "whsec-planted"):
        assert secret not in text
    assert "postgresql://app:***@db.internal/shop" in text
    assert "not started: asyncbdd.sqs.endpoint is http://queue-user:***@127.0.0.1:4566" in text
    assert re.search(
        r"asyncbdd\.webhooks\.secret\s+environment ASYNCBDD_WEBHOOKS_SECRET\s+\*\*\*", text
    )


def test_what_would_start_follows_the_settings(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no endpoints, the embedded SQS server and Kafka broker would start for the
    aliases that need them; the demo service is not this project's."""
    assert cli.main(["config"]) == 0
    text = capsys.readouterr().out
    assert re.search(
        r"SQS server\s+starts \(moto, in the test process\) on first use of billing", text
    )
    assert re.search(
        r"Kafka broker\s+starts \(librdkafka's mock cluster\) on first use of orders", text
    )
    assert re.search(
        r"webhook capture server\s+starts when a scenario declares a webhook receiver", text
    )
    assert "demo order service" not in text


def test_configured_endpoints_start_nothing() -> None:
    """An SQS endpoint, a region or Kafka servers mean no embedded broker starts."""
    settings = Settings(
        queues={"billing": "sqs:billing", "orders": "kafka:orders"},
        transport_settings={
            "sqs": {"region": "eu-west-1"},
            "kafka": {"bootstrap_servers": "kafka.internal:9092"},
        },
    )
    services = dict(embedded_services(settings))
    assert services["SQS server"] == "not started: asyncbdd.sqs.region eu-west-1 means AWS itself"
    assert (
        services["Kafka broker"]
        == "not started: asyncbdd.kafka.bootstrap_servers is kafka.internal:9092"
    )
    none = dict(embedded_services(Settings()))
    assert none["SQS server"] == "not needed: no alias in asyncbdd.queues names an SQS queue"


def test_an_invalid_setting_is_an_error_naming_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A -D that names no setting fails with the known ones suggested, and exit status 2."""
    assert cli.main(["config", "-D", "asyncbdd.timout=3"]) == 2
    error = capsys.readouterr().err
    assert "asyncbdd.timout" in error
    assert "Did you mean 'asyncbdd.timeout'?" in error


def test_setting_sources_follow_the_precedence() -> None:
    """config.setting_sources names, for every setting, the last source that set it."""
    sources = setting_sources(
        file_values={"asyncbdd.timeout": "3", "asyncbdd.grace": "1"},
        environ={"ASYNCBDD_GRACE": "2", "ASYNCBDD_SETTLE": "1"},
        overrides={"asyncbdd.settle": "3"},
    )
    assert sources["timeout"] == "asyncbdd.timeout in setup.cfg"
    assert sources["grace"] == "environment variable ASYNCBDD_GRACE"
    assert sources["settle"] == "-D asyncbdd.settle"
    assert sources["max_interval"] == "default"
    assert set(sources) == set(Settings.__dataclass_fields__)


def test_setting_keys_are_written_as_teams_write_them() -> None:
    """Grouped settings read with a dot after their group; the key reads back as the setting."""
    assert setting_key("traces_order_by") == "asyncbdd.traces.order_by"
    assert setting_key("webhooks_max_body_size") == "asyncbdd.webhooks.max_body_size"
    assert setting_key("timeout_scale") == "asyncbdd.timeout_scale"
    for name in Settings.__dataclass_fields__:
        if name == "transport_settings":
            continue  # given as asyncbdd.SCHEME.NAME
        key = setting_key(name)
        assert setting_sources(overrides={key: "x"}, environ={})[name] == f"-D {key}"


def test_in_this_repository_the_demo_service_would_start() -> None:
    """Here, the demo's environment.py starts the order service unless demo.url is set."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    finished = subprocess.run(
        [sys.executable, "-m", "asyncbdd", "config"], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert re.search(r"demo order service\s+starts in-process", finished.stdout)
    assert "demo-webhook-secret" not in finished.stdout
    environment["ASYNCBDD_DEMO_URL"] = "http://127.0.0.1:8080"
    elsewhere = subprocess.run(
        [sys.executable, "-m", "asyncbdd", "config"], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert re.search(
        r"demo order service\s+not started: demo.url is http://127.0.0.1:8080", elsewhere.stdout
    )
