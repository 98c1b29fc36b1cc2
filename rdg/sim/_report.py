"""Draw what simulator runs measured: update latency (CDF) and origin load, side by side.

Needs matplotlib (``pip install 'rdg[bench]'``). Example::

    from rdg.sim import SimConfig, compare, plot_simulation
    out = compare(SimConfig(devices=2000))
    plot_simulation([out["prefetch"], out["naive"]], "live.png")
"""

from __future__ import annotations

import math

from rdg.errors import EnvironmentMissingError
from rdg.sim._config import SimResult

__all__ = ["plot_simulation"]


def plot_simulation(results: list[SimResult], path: str) -> str:
    """Draw the latency distribution and the origin request rate of each run into one PNG; returns ``path``."""
    try:
        import matplotlib
    except ImportError as err:
        raise EnvironmentMissingError("drawing the simulation needs matplotlib",
                                      hint="pip install 'rdg[bench]', or pass --no-png") from err

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    for res in results:
        lat = sorted(res.latencies_ms)
        if lat:
            ax1.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))],
                     label=f"{res.mode}: p50 {res.update_p50_ms:.0f} ms, p99 {res.update_p99_ms:.0f} ms")
        per_s: dict[int, int] = {}
        for t, n in res.origin_series:
            per_s[math.floor(t)] = per_s.get(math.floor(t), 0) + n
        if per_s:
            for x in range(min(per_s) - 1, max(per_s) + 2):
                per_s.setdefault(x, 0)
        xs = sorted(per_s)
        ax2.plot(xs, [per_s[x] for x in xs], drawstyle="steps-post",
                 label=f"{res.mode}: peak at start {res.origin_peak_rps_at_start:.0f}/s")
    ax1.set_xscale("log")
    ax1.set_xlabel("trigger -> device updated (ms)")
    ax1.set_ylabel("fraction of devices")
    ax1.set_title(f"update latency, {results[0].devices:,} devices")
    ax1.grid(True, alpha=0.3)
    ax1.legend()
    ax2.axvline(0, color="grey", linestyle=":", label="trigger (event starts)")
    ax2.set_xlabel("seconds from the trigger")
    ax2.set_ylabel("requests/s at the prefetch API")
    ax2.set_title("origin load")
    ax2.grid(True, alpha=0.3)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
