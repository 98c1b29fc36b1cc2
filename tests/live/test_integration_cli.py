"""`rdg live ...` on the real NATS server: the operator journey and every bad input."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from click.testing import CliRunner

from rdg.bus import connect
from rdg.cli import cli
from rdg.live import LiveNames

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def rdg(nats_url: str):
    namespace = f"cli{uuid.uuid4().hex[:8]}"
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        extra = [] if args[0] == "simulate" else ["--namespace", namespace]  # simulate makes its own
        result = runner.invoke(cli, ["--set", f"nats_url={nats_url}", "live", *args, *extra],
                               standalone_mode=False, catch_exceptions=True)
        if ok:
            assert result.exception is None, (result.output, result.exception)
        return result

    yield run
    asyncio.run(_drop(nats_url, LiveNames(namespace)))


async def _drop(nats_url: str, names: LiveNames) -> None:
    nc = await connect(nats_url)
    js = nc.jetstream()
    for drop in (js.delete_key_value(names.bucket), js.delete_stream(names.stream)):
        try:
            await drop
        except Exception:  # noqa: BLE001 - never created
            pass
    await nc.close()


def test_operator_journey(rdg) -> None:
    out = rdg("create", "final", "--title", "Cup final", "--start", "+1h", "--duration", "2h",
              "--stage", "pre-show:0", "--stage", "main:15m", "--stage", "post-show:1h45m",
              "--tag", "sport=football", "--related", "t-derby").output
    assert "final  scheduled" in out and "pre-show@+0s, main@+900s, post-show@+6300s" in out
    delayed = json.loads(rdg("delay", "final", "--by-time", "10m", "--json").output)
    assert delayed["state"] == "delayed" and delayed["history"][-1]["note"] == "start moved by 600s"
    assert json.loads(rdg("start", "final", "--by", "alice", "--json").output)["stage"] == "pre-show"
    assert json.loads(rdg("stage", "final", "--json").output)["stage"] == "main"
    assert json.loads(rdg("stage", "final", "post-show", "--json").output)["stage"] == "post-show"
    assert json.loads(rdg("end", "final", "--json").output)["state"] == "ended"
    listed = json.loads(rdg("list", "--json").output)
    assert [e["event_id"] for e in listed] == ["final"]
    status = rdg("status", "final").output
    assert "by alice" in status and "end     -> ended" in status


@pytest.mark.parametrize("args, error, match", [
    (("status", "nope"), "NotFoundError", "no live event 'nope'"),
    (("start", "nope"), "NotFoundError", "no live event 'nope'"),
    (("create", "x", "--title", "T", "--start", "tomorrow"), "ScheduleError", "bad time"),
    (("create", "x", "--title", "T", "--start", "+1h", "--end", "+0s"), "ScheduleError", "ends before"),
    (("create", "x", "--title", "T", "--start", "+1h", "--stage", "main:5m"), "ScheduleError", "offsets"),
    (("create", "a.b", "--title", "T", "--start", "+1h"), "ScheduleError", "bad event id"),
    (("create", "x", "--title", "T", "--start", "+1h", "--tag", "oops"), "BadParameter", "KEY=VALUE"),
    (("delay", "x"), "UsageError", "exactly one"),
])
def test_bad_input_gets_a_clear_error(rdg, args, error, match) -> None:
    result = rdg(*args, ok=False)
    assert type(result.exception).__name__ == error
    assert match in str(result.exception)


def test_illegal_transition_changes_nothing(rdg) -> None:
    rdg("create", "gala", "--title", "Gala", "--start", "+1h")
    rdg("cancel", "gala")
    result = rdg("start", "gala", ok=False)
    assert type(result.exception).__name__ == "IllegalActionError"
    assert "cannot start event 'gala': it is cancelled" in str(result.exception)
    assert json.loads(rdg("status", "gala", "--json").output)["seq"] == 2


def test_simulate_command(rdg, tmp_path) -> None:
    png = tmp_path / "s.png"
    out = json.loads(rdg("simulate", "--devices", "120", "--workers", "1", "--conns", "6", "--members", "12",
                         "--browse", "0.5", "--json", "--png", str(png)).output)
    assert out["prefetch"]["updated"] == 120 and out["prefetch"]["misses"] == 0
    assert png.stat().st_size > 10_000
