"""`rdg stack up --secure` for JanusGraph: wss:// with the stack's CA and a password checked by
the server; graph commands work with the settings the stack prints and fail in one line without."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from rdg.stack import start_for_tests
from rdg.stack._janusgraph import client_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def secure_janusgraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("secure-janusgraph")
    with start_for_tests("janusgraph", folder, secure=True) as url:
        yield client_settings(folder / "janusgraph", url)


def _rdg(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDG_GREMLIN")}
    env.update({f"RDG_{k.upper()}": v for k, v in settings.items()}, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "rdg", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_graph_commands_use_tls_and_the_password(secure_janusgraph: dict[str, str]) -> None:
    assert secure_janusgraph["gremlin_url"].startswith("wss://")
    init = _rdg(secure_janusgraph, "graph", "init")
    assert init.returncode == 0, init.stderr
    done = _rdg(secure_janusgraph, "query", "g.inject(x)", "-b", "x=41", "--json")
    assert done.returncode == 0 and done.stdout.strip().replace("\n", "").replace(" ", "") == "[41]", done.stderr
    password = Path(secure_janusgraph["gremlin_password_file"]).read_text().strip()
    assert password not in init.stdout + init.stderr + done.stdout + done.stderr


@pytest.mark.parametrize("change, says", [
    ({"gremlin_password_file": "", "gremlin_password": "wrong"}, "Username and/or password are incorrect"),
    ({"gremlin_ca_file": ""}, "CERTIFICATE_VERIFY_FAILED"),
])
def test_without_the_password_or_the_ca_it_fails_in_one_line(secure_janusgraph: dict[str, str], change: dict,
                                                             says: str) -> None:
    done = _rdg({**secure_janusgraph, **change}, "query", "g.V().count()")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1 and says in lines[0], done.stderr


def test_the_server_config_holding_passwords_is_private(secure_janusgraph: dict[str, str]) -> None:
    home = Path(secure_janusgraph["gremlin_password_file"]).parent.parent
    server_yaml = home / "conf" / "janusgraph-server.yaml"
    assert server_yaml.stat().st_mode & 0o777 == 0o600
    assert (home / "secrets").stat().st_mode & 0o777 == 0o700
