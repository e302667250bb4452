"""A run names each embedded service it starts, once per start."""

from __future__ import annotations

import pytest
from doubles import FakeService

from asyncbdd.infra.run_scoped import RunScoped


def test_a_labelled_service_is_named_once_when_it_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first use starts and names it; later uses name nothing; a restart says so."""
    scoped = RunScoped(FakeService, label="the embedded thing")
    scoped.get()
    scoped.get()
    assert capsys.readouterr().err == "asyncbdd: started the embedded thing at fake://service\n"
    scoped.stop()
    scoped.get()
    assert capsys.readouterr().err == (
        "asyncbdd: started the embedded thing again at fake://service\n"
    )
    scoped.stop()
