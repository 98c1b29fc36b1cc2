"""The ``rdg`` front end: version, help, config show, and exit codes for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from rdg import __version__
from rdg.cli import _GROUPS, cli


def _rdg(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RDG_")}
    return subprocess.run([sys.executable, "-m", "rdg", *args], capture_output=True, text=True,
                          env={**base, **env}, timeout=60, check=False)


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"rdg, version {__version__}"


def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in _GROUPS:
        assert f"  {name} " in result.output
    assert "rdg stack up" in result.output


def test_stack_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["stack", "up", "--help"])
    assert result.exit_code == 0
    assert "rdg stack up --only kafka,janusgraph --backend berkeleyje" in result.output


def test_config_show_json_masks_secrets() -> None:
    done = _rdg("--set", "gremlin_password=s3cret", "config", "show", "--json", RDG_NATS_URL="nats://10.0.0.5:4222")
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    assert values["nats_url"] == "nats://10.0.0.5:4222"
    assert values["gremlin_password"] == "***"


def test_config_show_table() -> None:
    done = _rdg("config", "show")
    assert done.returncode == 0
    assert any(line.split()[:2] == ["kafka_bootstrap", "127.0.0.1:9092"] for line in done.stdout.splitlines())


def test_unknown_setting_exits_2_with_a_hint() -> None:
    done = _rdg("--set", "gremlin_ulr=x", "config", "show")
    assert done.returncode == 2
    assert "unknown setting 'gremlin_ulr' (did you mean 'gremlin_url'?)" in done.stderr
    assert "rdg config show" in done.stderr


def test_unknown_setting_in_the_environment_is_ignored_but_a_bad_value_is_not() -> None:
    assert _rdg("config", "show", RDG_NOT_A_SETTING="1").returncode == 0
    done = _rdg("config", "show", RDG_KAFKA_PORT="ninety")
    assert done.returncode == 2
    assert "RDG_KAFKA_PORT: kafka_port must be a whole number" in done.stderr


def test_unknown_command_is_a_usage_error() -> None:
    done = _rdg("stak")
    assert done.returncode == 2
    assert "No such command 'stak'" in done.stderr


def test_an_alias_bomb_in_rdg_yaml_is_one_clear_line(tmp_path) -> None:
    from tests.test_spec_yaml import BOMB

    (tmp_path / "rdg.yaml").write_text(BOMB)  # picked up from the current folder
    base = {k: v for k, v in os.environ.items() if not k.startswith("RDG_")}
    done = subprocess.run([sys.executable, "-m", "rdg", "config", "show"], capture_output=True, text=True,
                          env=base, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 2
    assert "rdg.yaml:2:8: YAML alias *a is not allowed" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_alias_bomb_in_a_workflow_parameter_is_refused() -> None:
    from rdg.cli._workflow import _parse_params

    with pytest.raises(click.UsageError) as info:
        _parse_params(("x=[&a [1, 1, 1], [*a, *a, *a]]",))
    assert "YAML alias *a is not allowed" in str(info.value)
    assert _parse_params(("n=3", "names=[a, b]")) == {"n": 3, "names": ["a", "b"]}


def test_a_command_group_that_cannot_load_says_why_when_run(monkeypatch) -> None:
    from click.testing import CliRunner

    import rdg.cli as cli_module

    monkeypatch.setitem(cli_module._GROUPS, "ghost", ("rdg.cli._no_such_module", "ghost", "a missing group"))
    done = CliRunner().invoke(cli_module.cli, ["ghost"])
    assert done.exit_code == 1 and "`rdg ghost` could not load: No module named 'rdg.cli._no_such_module'" in done.output
