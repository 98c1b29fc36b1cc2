"""Live events: schedule state on JetStream, prefetch from the graph, one broadcast to every device.

``_model``: the state machine (pure). ``_store``: KV state with compare-and-set, broadcast.
"""

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
from rdg.live._scheduler import Scheduler, next_due
from rdg.live._store import EventStore, LiveNames

__all__ = [
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
