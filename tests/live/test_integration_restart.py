"""NATS goes away and comes back: the gateway and devices pick up where they were, nothing lost."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from rdg.bus import connect
from rdg.live import Device, DeviceLink, EventStore, Gateway, LiveNames, new_event
from rdg.stack import free_port
from rdg.testing import async_wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _nats(port: int, store_dir: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("nats-server")
    assert binary, "nats-server is not installed (apt-get install nats-server)"
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("our nats-server did not start")


async def test_gateway_and_devices_survive_a_nats_restart(tmp_path: Path) -> None:
    port = free_port()
    server = _nats(port, tmp_path / "js")
    url = f"nats://127.0.0.1:{port}"
    names = LiveNames("restart")
    try:
        nc = await connect(url, name="restart-test")
        gw_nc = await connect(url, name="restart-gateway")
        store = await EventStore.open(nc, names)
        gateway = await Gateway(gw_nc, names, port=0).start()
        device = Device("tv", "p1")
        link = DeviceLink(gateway.url, [device]).start()
        await store.create(new_event("final", title="T", start=time.time() + 3600, end=time.time() + 7200))
        await async_wait_until(lambda: device.seen.get("final") == 1, what="the device to see seq 1")

        server.terminate()  # NATS goes away...
        server.wait(10)
        await asyncio.sleep(1.0)
        server = _nats(port, tmp_path / "js")  # ...and comes back with its JetStream data

        deadline = time.time() + 30
        while True:  # the operator retries until NATS answers again
            try:
                await store.transition("final", "start", by="ops")
                break
            except Exception:  # noqa: BLE001 - RdgError, or a driver timeout while it reconnects
                assert time.time() < deadline
                await asyncio.sleep(0.5)
        await async_wait_until(lambda: device.seen.get("final") == 2, what="the device to see seq 2")  # the broadcast made it through the gateway
        assert device.showing["final"][0] == "main"
        await link.stop()
        await gateway.close()
        await nc.close()
        await gw_nc.close()
    finally:
        server.terminate()
        server.wait(10)
