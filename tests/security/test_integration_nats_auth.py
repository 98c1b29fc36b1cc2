"""Every NATS client honours credentials and TLS, on real servers (issue 10, finding 4):
`rdg stack up --secure` (TLS and an nkey user), and servers asking for a password or a token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from rdg.stack import free_ports, start_for_tests
from rdg.config import load_settings
from rdg.stack._nats import binary, client_settings
from rdg.testing import async_wait_until, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _rdg(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDG_NATS")}
    env.update({f"RDG_{k.upper()}": v for k, v in settings.items()}, PYTHONPATH=str(ROOT),
               RDG_NATS_CONNECT_TIMEOUT="5")
    return subprocess.run([sys.executable, "-m", "rdg", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.fixture(scope="module")
def secure_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("secure")
    with start_for_tests("nats", folder, secure=True) as url:
        yield client_settings(folder / "nats", url)


def test_the_secure_stack_serves_clients_with_the_key_and_the_ca(secure_nats: dict[str, str]) -> None:
    assert secure_nats["nats_url"].startswith("tls://")
    created = _rdg(secure_nats, "live", "create", "final", "--title", "Cup final", "--start", "+1h", "--duration", "2h")
    assert created.returncode == 0, created.stderr
    assert "final" in _rdg(secure_nats, "live", "list").stdout
    pushed = _rdg(secure_nats, "workflow", "push", str(ROOT / "docs" / "examples" / "workflows" / "hello.yaml"))
    assert pushed.returncode == 0, pushed.stderr
    assert "hello" in _rdg(secure_nats, "workflow", "list").stdout


@pytest.mark.parametrize("drop, says", [
    ("nats_nkey_seed_file", "NATS refused the credentials"),
    ("nats_tls_ca_file", "TLS with NATS failed"),
])
def test_without_the_key_or_the_ca_it_fails_at_once_with_one_line(secure_nats: dict[str, str], drop: str,
                                                                   says: str) -> None:
    began = time.monotonic()
    done = _rdg({k: v for k, v in secure_nats.items() if k != drop}, "workflow", "list")
    assert done.returncode != 0 and time.monotonic() - began < 30
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr


def test_the_secrets_of_the_secure_stack_are_private_and_not_in_its_config(secure_nats: dict[str, str]) -> None:
    seed = Path(secure_nats["nats_nkey_seed_file"])
    home = seed.parent.parent
    assert seed.stat().st_mode & 0o777 == 0o600 and seed.parent.stat().st_mode & 0o777 == 0o700
    assert (home / "tls" / "server-key.pem").stat().st_mode & 0o777 == 0o600
    conf = (home / "nats-secure.conf").read_text()
    assert seed.read_text().strip() not in conf and "nkey" in conf


@pytest.fixture(scope="module")
def password_and_token_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two plain nats-servers: one asks for user/password, one for a token (flags, no config file)."""
    folder = tmp_path_factory.mktemp("auth")
    p1, m1, p2, m2 = free_ports(4)
    settings = load_settings(config_file=None)
    nats = binary(settings.stack_dir, chosen=settings.nats_server)  # the one the other fixtures run
    procs = [subprocess.Popen([nats, "-a", "127.0.0.1", "-p", str(p1), "-m", str(m1), "-js", "-sd",
                               str(folder / "a"), "--user", "app", "--pass", "pw-1"], stderr=subprocess.DEVNULL),
             subprocess.Popen([nats, "-a", "127.0.0.1", "-p", str(p2), "-m", str(m2), "-js", "-sd",
                               str(folder / "b"), "--auth", "tok-2"], stderr=subprocess.DEVNULL)]
    try:
        from rdg.stack._process import port_in_use

        wait_until(lambda: port_in_use(p1) and port_in_use(p2), timeout=30, every=0.1,
                   what="both nats-servers (password, token) to listen")
        yield f"nats://127.0.0.1:{p1}", f"nats://127.0.0.1:{p2}"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_user_password_and_token_reach_the_workflow_and_live_clients(password_and_token_servers) -> None:
    """The workflow store ignored nats_user/nats_password and hung; now every client logs in."""
    with_password, with_token = password_and_token_servers
    for settings in ({"nats_url": with_password, "nats_user": "app", "nats_password": "pw-1"},
                     {"nats_url": with_token, "nats_token": "tok-2"}):
        for args in (["workflow", "list"], ["live", "list"]):
            done = _rdg(settings, *args)
            assert done.returncode == 0, (settings["nats_url"], args, done.stderr)
    wrong = _rdg({"nats_url": with_password, "nats_user": "app", "nats_password": "nope"}, "workflow", "list")
    assert wrong.returncode != 0 and "refused the credentials" in wrong.stderr and "nope" not in wrong.stderr


async def test_the_gateway_user_serves_devices_but_cannot_forge_a_broadcast(secure_nats: dict[str, str],
                                                                          tmp_path: Path) -> None:
    """Issue 10, finding 4: only an authorised publisher's broadcasts reach devices."""
    import asyncio
    import json
    import time
    import uuid

    from rdg.bus import connect_with
    from rdg.config import load_settings
    from rdg.live import Device, DeviceLink, EventStore, Gateway, LiveNames, new_event

    home = Path(secure_nats["nats_nkey_seed_file"]).parent.parent
    gateway_settings = client_settings(home, secure_nats["nats_url"], role="gateway")
    admin = await connect_with(load_settings(env={f"RDG_{k.upper()}": v for k, v in secure_nats.items()},
                                             config_file=None))
    guest = await connect_with(load_settings(env={f"RDG_{k.upper()}": v for k, v in gateway_settings.items()},
                                             config_file=None))
    names = LiveNames(f"g{uuid.uuid4().hex[:8]}")
    try:
        store = await EventStore.open(admin, names)
        await store.create(new_event("final", title="Cup final", start=time.time() + 3600, end=time.time() + 7200))
        gateway = await Gateway(guest, names, port=0).start()  # the gateway runs as the restricted user
        device = Device("tv-1", "p1")
        link = DeviceLink(gateway.url, [device]).start()
        await asyncio.wait_for(link.connected.wait(), 10)
        forged = b'{"event_id":"final","state":"ended","stage":null,"seq":2,"ts":1}'
        with pytest.raises(Exception):  # the server refuses the publish: no stream ever stores it
            await guest.jetstream().publish(names.subject("final"), forged, timeout=2)
        with pytest.raises(Exception):
            await (await guest.jetstream().key_value(names.bucket)).put("final", b"{}")
        await store.transition("final", "start", by="ops")  # the real publisher still gets through
        await async_wait_until(lambda: device.seen.get("final") == 2, timeout=10,
                               what="the device to see the real start (seq 2)")
        assert device.seen["final"] == 2 and device.showing["final"][0] != "ended"
        await link.stop()
        await gateway.close()
        from rdg.graph import connect
        from rdg.live import PrefetchService

        api = PrefetchService(await EventStore.open(guest, names), lambda: connect(str(tmp_path / "g.sqlite")))
        await api.start()  # the prefetch API also runs as the restricted user
        try:
            body = json.loads(await api.for_member("p1"))
            assert [e["event_id"] for e in body["events"]] == ["final"]
        finally:
            await api.close()
    finally:
        await guest.close()
        await admin.close()
