"""NATS goes away and comes back: the gateway and devices pick up where they were, nothing lost."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from rdg.bus import connect
from rdg.live import Device, DeviceLink, EventStore, Gateway, LiveNames, new_event
from rdg.stack import free_port
from rdg.testing import async_wait_until, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _nats(port: int, store_dir: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("nats-server")
    assert binary, "nats-server is not installed (apt-get install nats-server)"
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def accepting() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(accepting, timeout=15, what=f"our nats-server to accept connections on port {port}")
    except AssertionError:
        proc.kill()
        raise
    return proc


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
        await async_wait_until(lambda: not nc.is_connected and not gw_nc.is_connected,
                               what="both NATS clients to notice the server is gone")
        server = _nats(port, tmp_path / "js")  # ...and comes back with its JetStream data

        refusals: list[Exception] = []

        async def started() -> bool:  # the operator retries until NATS answers again
            try:
                await store.transition("final", "start", by="ops")
            except Exception as err:  # noqa: BLE001 - RdgError, or a driver timeout while it reconnects
                refusals[:] = [err]
                return False
            return True

        try:
            await async_wait_until(started, timeout=30, every=0.5, what="NATS to accept the operator's start again")
        except AssertionError as err:
            raise AssertionError(f"{err}; the last refusal: {refusals[-1:]!r}") from err
        await async_wait_until(lambda: device.seen.get("final") == 2, what="the device to see seq 2")  # the broadcast made it through the gateway
        assert device.showing["final"][0] == "main"
        await link.stop()
        await gateway.close()
        await nc.close()
        await gw_nc.close()
    finally:
        server.terminate()
        server.wait(10)
