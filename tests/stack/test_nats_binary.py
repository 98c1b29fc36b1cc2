"""Which ``nats-server`` the stack runs: the user's choice, the stack's own build, else the system's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rdg.config import load_settings
from rdg.errors import EnvironmentMissingError, ServerError
from rdg.stack import _nats
from rdg.stack._nats import VERSION, binary, build, version_of


def _script(path: Path, text: str) -> str:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_chosen_binary_wins_and_a_missing_one_is_named(tmp_path: Path) -> None:
    chosen = _script(tmp_path / "my-nats", "echo 'nats-server: v2.12.1'\n")
    assert binary(tmp_path, chosen=chosen) == chosen
    assert version_of(chosen) == "2.12.1"
    with pytest.raises(EnvironmentMissingError) as err:
        binary(tmp_path, chosen=str(tmp_path / "nope"))
    assert "nope" in err.value.message and "RDG_NATS_SERVER" in str(err.value.hint)


def test_without_go_the_system_server_runs_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = _script(tmp_path / "nats-server", "echo 'nats-server: v2.9.10'\n")
    monkeypatch.setattr(_nats, "_go", lambda: None)
    monkeypatch.setattr(_nats, "_system", lambda: system)
    said: list[str] = []
    assert binary(tmp_path / "stack", progress=said.append) == system
    assert said == [f"using {system} (2.9.10) instead of nats-server {VERSION}: "
                    f"Go is not installed, so nats-server {VERSION} cannot be built"]


def test_without_go_or_a_system_server_the_error_says_what_to_install(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_nats, "_go", lambda: None)
    monkeypatch.setattr(_nats, "_system", lambda: None)
    with pytest.raises(EnvironmentMissingError) as err:
        binary(tmp_path)
    assert "install Go" in str(err.value.hint) and "apt-get install -y nats-server" in str(err.value.hint)


def test_a_failed_build_shows_go_s_own_words_and_leaves_no_half_binary(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    go = _script(tmp_path / "go", "echo 'go: module lookup disabled by GOPROXY=off' >&2; exit 1\n")
    monkeypatch.setattr(_nats, "_go", lambda: go)
    with pytest.raises(ServerError) as err:
        build(tmp_path / "stack")
    assert "GOPROXY=off" in err.value.message
    assert not (tmp_path / "stack" / "bin" / f"nats-server-{VERSION}").exists()


@pytest.mark.integration
def test_the_stack_build_is_the_current_release() -> None:
    """The binary the suite's servers run (built by `rdg stack fetch` in scripts/test.sh)."""
    settings = load_settings(config_file=None)
    path = binary(settings.stack_dir, chosen=settings.nats_server)
    if settings.nats_server:
        assert path == settings.nats_server
    elif _nats._go() is not None:
        assert path.endswith(f"nats-server-{VERSION}{os.sep}nats-server")
        assert version_of(path) == VERSION
    else:
        assert path == _nats._system()
