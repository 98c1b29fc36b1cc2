"""The device-fleet simulator: many devices, real gateways, a real prefetch API, one trigger.

A benchmark harness, kept apart from :mod:`rdg.live` (which it drives and measures): it backs
``rdg live simulate`` and ``bench/live.py``. ``_config``: :class:`SimConfig`, :class:`SimResult`
and the member graph; ``_run``: the coordinator (servers, fleet, browse, trigger, measure);
``_fleet``: one device-fleet process; ``_serve``: a gateway or the prefetch API in a process of
its own (``python -m rdg.sim._serve``, calling :mod:`rdg.live.ops`); ``_report``: the plot.

Each fleet process holds its share of the devices as small objects, multiplexed over a few
WebSocket connections per gateway (``conns`` in all; with ``conns == devices`` every device has
its own socket). A real device would hold one socket each; on 2 cores Python cannot keep
100,000 sockets busy, so the multiplexing is what lets the fan-out reach every simulated device.

>>> from rdg.sim import SimConfig
>>> SimConfig(devices=20_000, gateways=2, workers=2).conns
200

Running it needs a NATS server with JetStream (``rdg stack up --only nats``)::

    from rdg.sim import SimConfig, compare, plot_simulation
    out = compare(SimConfig(devices=20_000, nats_url="nats://127.0.0.1:4222"))
    print(out["prefetch"].update_p99_ms, out["origin_peak_ratio"])
    plot_simulation([out["prefetch"], out["naive"]], "live.png")
"""

from rdg.sim._config import SimConfig, SimResult, build_member_graph
from rdg.sim._report import plot_simulation
from rdg.sim._run import compare, simulate

__all__ = ["SimConfig", "SimResult", "build_member_graph", "compare", "plot_simulation", "simulate"]
