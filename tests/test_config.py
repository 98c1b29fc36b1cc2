"""Settings: flags > RDG_* environment > rdg.yaml (with profiles) > defaults; bad input refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdg.config import Settings, load_settings
from rdg.errors import ConfigError


def test_defaults_need_no_server() -> None:
    s = load_settings(env={}, config_file=None)
    assert s.gremlin_url == "embedded"
    assert (s.nats_url, s.kafka_bootstrap) == ("nats://127.0.0.1:4222", "127.0.0.1:9092")
    assert (s.nats_port, s.kafka_port, s.janusgraph_port, s.janusgraph_backend) == (4222, 9092, 8182, "inmemory")


def test_priority_flags_over_env_over_file(tmp_path: Path) -> None:
    conf = tmp_path / "rdg.yaml"
    conf.write_text("kafka_bootstrap: file:1\nnats_url: nats://file:4222\ngremlin_pool_size: 2\n")
    s = load_settings(config_file=conf, env={"RDG_KAFKA_BOOTSTRAP": "env:2", "RDG_GREMLIN_POOL_SIZE": "8"},
                      overrides=["kafka_bootstrap=flag:3"])
    assert s.kafka_bootstrap == "flag:3"
    assert s.gremlin_pool_size == 8
    assert s.nats_url == "nats://file:4222"


def test_profile_values_win_over_the_file_top_level(tmp_path: Path) -> None:
    conf = tmp_path / "rdg.yaml"
    conf.write_text("gremlin_url: embedded\nprofiles:\n  prod:\n    gremlin_url: ws://jg:8182/gremlin\n")
    assert load_settings(config_file=conf, env={}).gremlin_url == "embedded"
    assert load_settings(config_file=conf, profile="prod", env={}).gremlin_url == "ws://jg:8182/gremlin"
    with pytest.raises(ConfigError, match="no profile named 'staging'"):
        load_settings(config_file=conf, profile="staging", env={})


def test_kafka_options_pass_through_and_secrets_are_masked() -> None:
    s = load_settings(env={"RDG_KAFKA_OPTIONS": "security.protocol=SASL_SSL,sasl.password=hunter2"},
                      overrides=["gremlin_password=s3cret"])
    assert s.kafka_config()["security.protocol"] == "SASL_SSL"
    assert s.kafka_config(**{"group.id": "g"})["group.id"] == "g"
    masked = s.masked()
    assert masked["gremlin_password"] == "***"
    assert masked["kafka_options"]["sasl.password"] == "***"
    assert masked["kafka_options"]["security.protocol"] == "SASL_SSL"
    assert "hunter2" not in str(masked) and "s3cret" not in str(masked)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overrides": ["nats_prot=1"]}, "unknown setting 'nats_prot' (did you mean 'nats_port'?)"),
        ({"overrides": ["kafka_port"]}, "expected KEY=VALUE"),
        ({"overrides": ["kafka_port=abc"]}, "kafka_port must be a whole number"),
        ({"overrides": ["kafka_port=70000"]}, "kafka_port must be a TCP port"),
        ({"overrides": ["janusgraph_backend=cassandra"]}, "must be 'inmemory' or 'berkeleyje'"),
        ({"env": {"RDG_KAFKA_OPTIONS": "nonsense"}}, "kafka_options must look like 'key=value"),
        ({"config_file": "/nonexistent/rdg.yaml"}, "does not exist"),
    ],
)
def test_bad_settings_are_refused_with_a_fix(kwargs: dict, message: str) -> None:
    kwargs.setdefault("env", {})
    with pytest.raises(ConfigError) as err:
        load_settings(**kwargs)
    assert message in str(err.value)
    assert err.value.exit_code == 2


def test_bad_settings_file(tmp_path: Path) -> None:
    conf = tmp_path / "rdg.yaml"
    conf.write_text("stack_dri: /tmp/x\n")
    with pytest.raises(ConfigError, match="unknown setting 'stack_dri' \\(did you mean 'stack_dir'\\?\\)"):
        load_settings(config_file=conf, env={})
    conf.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(config_file=conf, env={})
    conf.write_text("nats_url: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(config_file=conf, env={})


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().nats_url = "x"  # type: ignore[misc]


def test_the_settings_file_and_profile_come_from_the_environment_as_the_cli_reads_them(tmp_path: Path) -> None:
    """RDG_CONFIG and RDG_PROFILE are read here, in one place, for the CLI and child processes alike."""
    path = tmp_path / "team.yaml"
    path.write_text("query_timeout: 7\nprofiles:\n  ci:\n    query_timeout: 9\n", encoding="utf-8")
    assert load_settings(env={"RDG_CONFIG": str(path)}).query_timeout == 7
    assert load_settings(env={"RDG_CONFIG": str(path), "RDG_PROFILE": "ci"}).query_timeout == 9
    assert load_settings(config_file=path, env={"RDG_CONFIG": "/nowhere.yaml"}).query_timeout == 7  # the flag wins
