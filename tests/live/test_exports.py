"""The public surface of rdg.live and rdg.sim (and the broadcast helpers in rdg.bus) is pinned here."""

import rdg.bus
import rdg.live
import rdg.sim

LIVE = {
    "Action", "Device", "DeviceLink", "EventStore", "Gateway", "GatewayStats", "GraphShape", "HistoryEntry",
    "LiveEvent", "LiveNames", "MemberFeatures", "PrefetchService", "Recommendation", "Recommender",
    "ScheduleError", "Scheduler", "Stage", "State", "TRANSITIONS", "apply",
    "check_event_id", "content_map", "create_app", "display_key", "jittered_max_age", "new_event",
    "next_due", "parse_duration", "parse_time", "valid_message",
}
SIM = {"SimConfig", "SimResult", "build_member_graph", "compare", "plot_simulation", "simulate"}


def test_live_exports() -> None:
    assert set(rdg.live.__all__) == LIVE
    assert all(hasattr(rdg.live, name) for name in LIVE)


def test_the_simulator_lives_in_rdg_sim_only() -> None:
    assert set(rdg.sim.__all__) == SIM
    assert all(hasattr(rdg.sim, name) for name in SIM)
    assert not set(rdg.live.__all__) & SIM and not any(hasattr(rdg.live, name) for name in SIM)  # moved out


def test_bus_broadcast_exports() -> None:
    assert {"ensure_broadcast_stream", "last_json", "publish_json", "subscribe_latest"} <= set(rdg.bus.__all__)
