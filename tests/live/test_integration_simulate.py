"""The fleet simulator end to end on the real NATS server (small fleet; the bench runs the big one)."""

from __future__ import annotations

import pytest

from rdg.errors import RdgError
from rdg.sim import SimConfig, compare, plot_simulation, simulate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_prefetch_vs_naive_same_run(nats_url: str, tmp_path) -> None:
    cfg = SimConfig(devices=400, gateways=2, workers=1, conns=20, members=40, browse_s=1.0, lead_s=0.5,
                    nats_url=nats_url, timeout_s=90)
    out = compare(cfg)
    pre, naive = out["prefetch"], out["naive"]
    assert pre.updated == naive.updated == 400  # every device flipped, in both modes
    assert pre.misses == 0 and naive.misses == 400  # prefetched devices needed nothing at kick-off
    assert pre.connections == naive.connections == 20
    assert pre.origin_requests >= 400  # each device prefetched once while browsing...
    assert pre.offered_peak_rps_at_start == 0  # ...and nobody asked the origin around the start
    assert naive.origin_peak_rps_at_start > 0 and naive.offered_peak_rps_at_start > 0
    assert out["origin_peak_ratio"] == pre.origin_peak_rps_at_start / naive.origin_peak_rps_at_start
    assert all(x >= 0 for x in pre.latencies_ms) and len(pre.latencies_ms) == 400
    png = plot_simulation([pre, naive], str(tmp_path / "sim.png"))
    assert (tmp_path / "sim.png").stat().st_size > 10_000 and png.endswith("sim.png")


@pytest.mark.parametrize("kwargs", [{"devices": 0}, {"devices": 10, "conns": 50}, {"gateways": 4, "conns": 2}])
def test_bad_simulator_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(RdgError):
        SimConfig(**kwargs)


def test_late_devices_are_the_only_origin_load_at_kick_off(nats_url: str) -> None:
    res = simulate(SimConfig(devices=300, gateways=1, workers=1, conns=10, members=30, browse_s=1.0, lead_s=0.5,
                             late_fraction=0.1, nats_url=nats_url, timeout_s=90))
    assert res.updated == 300
    assert 10 <= res.misses <= 60  # ~10 % did not browse; each fetched when the event started
    assert res.offered_peak_rps_at_start == res.misses
    assert res.origin_requests == 300  # 270-odd prefetches while browsing + the late ones at kick-off
