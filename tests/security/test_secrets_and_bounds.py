"""Secrets never printed or written in clear, and commands that give up on an absent NATS
(issue 10, findings 5 and 8), tried the way a user meets them: through `rdg`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("hunter2", "s3cret-pw", "tok-4242", "-----BEGIN PRIVATE", "jaas-pw-9")


def _rdg(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rdg", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_config_show_masks_every_kind_of_secret() -> None:
    done = _rdg("--set", "nats_url=nats://app:hunter2@127.0.0.1:4222", "--set", "nats_password=s3cret-pw",
                "--set", "nats_token=tok-4242", "--set", "gremlin_url=ws://u:s3cret-pw@127.0.0.1:8182/gremlin",
                "--set", "kafka_options=ssl.key.pem=-----BEGIN PRIVATE KEY,"
                         "sasl.oauthbearer.config=clientSecret=jaas-pw-9,acks=all", "config", "show", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert not any(s in done.stdout for s in SECRETS), done.stdout
    assert shown["nats_url"] == "nats://app:***@127.0.0.1:4222" and shown["nats_token"] == "***"
    assert shown["kafka_options"] == {"ssl.key.pem": "***", "sasl.oauthbearer.config": "***", "acks": "all"}


def test_an_unreachable_nats_fails_within_the_timeout_with_one_line() -> None:
    """Finding 5: `live list` against a closed port ran until killed, printing nothing."""
    for args in (["live", "list"], ["workflow", "list"]):
        done = _rdg("--set", "nats_url=nats://app:hunter2@127.0.0.1:1", "--set", "nats_connect_timeout=2", *args,
                    timeout=30)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot connect to NATS at nats://app:***@127.0.0.1:1 within 2 s" in lines[0], lines
        assert "hunter2" not in done.stderr + done.stdout


def test_a_gremlin_url_with_credentials_is_masked_in_errors(tmp_path: Path) -> None:
    done = _rdg("--set", "gremlin_url=ws://alice:s3cret-pw@127.0.0.1:1/gremlin", "query", "g.V().count()",
                env={"RDG_STATE_DIR": str(tmp_path)}, timeout=120)
    assert done.returncode != 0
    assert "s3cret-pw" not in done.stderr + done.stdout and "alice:***@" in done.stderr, done.stderr


@pytest.mark.integration
def test_deploy_keeps_the_settings_file_private(tmp_path: Path, kafka_bootstrap: str) -> None:
    """Finding 8: deploy.json (mode 0644) held the NATS and SASL passwords."""
    state = tmp_path / "state"
    env = {"RDG_STATE_DIR": str(state), "RDG_KAFKA_BOOTSTRAP": kafka_bootstrap, "RDG_NATS_PASSWORD": "s3cret-pw",
           "RDG_GREMLIN_URL": str(tmp_path / "g.sqlite")}
    try:
        done = _rdg("deploy", "games", env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        folder = state / "pipelines" / "games"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "deploy.json").stat().st_mode) == 0o600
        assert "s3cret-pw" not in done.stdout + done.stderr
    finally:
        _rdg("stop", env=env, timeout=60)
