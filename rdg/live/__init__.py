"""Live events: schedule state on JetStream, prefetch from the graph, one broadcast to every device.

``_model``: the state machine (pure). ``_store``: KV state with compare-and-set, broadcast.
``_scheduler``: fires transitions at their times. ``_recommend`` + ``_api``: prefetch from the
graph over HTTP. ``_gateway``: one NATS subscription fanned out over WebSocket; ``_device``: what
a device holds and shows.
``ops``: blocking one-call-per-verb functions behind ``rdg live`` (public: the CLI's layer).
"""

from rdg.live._api import PrefetchService, create_app, jittered_max_age
from rdg.live._device import Device, display_key, valid_message
from rdg.live._gateway import DeviceLink, Gateway, GatewayStats
from rdg.live._model import (
    TRANSITIONS,
    Action,
    HistoryEntry,
    LiveEvent,
    ScheduleError,
    Stage,
    State,
    apply,
    check_event_id,
    new_event,
    parse_duration,
    parse_time,
)
from rdg.live._recommend import GraphShape, MemberFeatures, Recommendation, Recommender, content_map
from rdg.live._scheduler import Scheduler, next_due
from rdg.live._store import EventStore, LiveNames

__all__ = [
    "Device",
    "DeviceLink",
    "Gateway",
    "GraphShape",
    "GatewayStats",
    "MemberFeatures",
    "PrefetchService",
    "Recommendation",
    "Recommender",
    "content_map",
    "create_app",
    "display_key",
    "jittered_max_age",
    "valid_message",
    "TRANSITIONS",
    "Action",
    "EventStore",
    "HistoryEntry",
    "LiveEvent",
    "LiveNames",
    "ScheduleError",
    "Scheduler",
    "Stage",
    "State",
    "apply",
    "check_event_id",
    "new_event",
    "next_due",
    "parse_duration",
    "parse_time",
]
