"""The public surface of rdg.live (and the broadcast helpers in rdg.bus) is pinned here."""

import rdg.bus
import rdg.live

LIVE = {
    "Action", "Device", "DeviceLink", "EventStore", "Gateway", "GatewayStats", "GraphShape", "HistoryEntry",
    "LiveEvent", "LiveNames", "MemberFeatures", "PrefetchService", "Recommendation", "Recommender",
    "ScheduleError", "Scheduler", "SimConfig", "SimResult", "Stage", "State", "TRANSITIONS", "apply",
    "check_event_id", "compare", "content_map", "create_app", "display_key", "jittered_max_age", "new_event",
    "next_due", "parse_duration", "parse_time", "plot_simulation", "simulate", "valid_message",
}


def test_live_exports() -> None:
    assert set(rdg.live.__all__) == LIVE
    assert all(hasattr(rdg.live, name) for name in LIVE)


def test_bus_broadcast_exports() -> None:
    assert {"ensure_broadcast_stream", "last_json", "publish_json", "subscribe_latest"} <= set(rdg.bus.__all__)
