"""``rdg demo``: the example pipelines over the bundled sample events into the (embedded) graph.

Runs every pipeline of ``pipelines.yaml`` over ``rdg/data/events/<pipeline>.jsonl``, then
summarises the graph and one member's journey (devices, and what they did on each).
Running it twice gives the same graph: writes are idempotent per event id.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rdg.config import Settings
from rdg.errors import NotFoundError
from rdg.pipeline._dataflow import default_opener
from rdg.pipeline._metrics import Metrics
from rdg.pipeline._run import RunResult, load_spec, run_pipeline
from rdg.spec import DeadLetterSpec

__all__ = ["DemoResult", "bundled_data", "member_journey", "run_demo"]

_ACTIVITY = {"watched": "watched", "viewed_live": "watched live", "played": "played"}


def bundled_data() -> Path:
    """The folder of sample events and side tables shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data"


@dataclass
class DemoResult:
    """What the demo did and found."""

    runs: list[RunResult]
    vertices: dict[str, int]
    edges: dict[str, int]
    member: str
    journey: list[str]
    dead_letter_file: str
    graph: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"runs": [r.as_dict() for r in self.runs], "vertices": self.vertices, "edges": self.edges,
                "member": self.member, "journey": self.journey, "dead_letter_file": self.dead_letter_file,
                "graph": self.graph}


def member_journey(dump: dict[str, Any], member: str) -> list[str]:
    """Readable lines: the member's (account's) profiles, each device they used, and what they
    did on it (oldest first): "which devices did this member use, and what did they watch on each".

    >>> dump = {"vertices": [{"label": "title", "key": "title_id", "id": "t1", "properties": {"name": "Dark"}}],
    ...         "edges": [{"label": "has_profile", "from": ["account", "m1"], "to": ["profile", "m1-p1"],
    ...                    "properties": {"count": 3}},
    ...                   {"label": "used", "from": ["profile", "m1-p1"], "to": ["device", "d1"],
    ...                    "properties": {"vertical": "playback", "count": 2, "first_seen": 0, "last_seen": 9}},
    ...                   {"label": "watched", "from": ["profile", "m1-p1"], "to": ["title", "t1"],
    ...                    "properties": {"device_id": "d1", "count": 1, "first_seen": 5, "last_seen": 5}}]}
    >>> print("\\n".join(member_journey(dump, "m1")))
    profile m1-p1
      device d1 (2 sessions)
        watched title t1 'Dark' x1
    """
    names: dict[tuple[str, str], str] = {}
    for v in dump.get("vertices", []):
        key = v.get("id")
        if key is not None and v.get("properties", {}).get("name"):
            names[(v["label"], str(key))] = str(v["properties"]["name"])
    edges = dump.get("edges", [])
    profiles = sorted(str(e["to"][1]) for e in edges
                      if e["label"] == "has_profile" and list(e["from"]) == ["account", member])
    lines: list[str] = []
    for profile in profiles:
        lines.append(f"profile {profile}")
        mine = [e for e in edges if list(e["from"]) == ["profile", profile]]
        devices = sorted((e for e in mine if e["label"] == "used"), key=lambda e: e["properties"].get("first_seen", 0))
        for dev in devices:
            device_id = str(dev["to"][1])
            lines.append(f"  device {device_id} ({dev['properties'].get('count', 1)} sessions)")
            acts = [e for e in mine if e["label"] in _ACTIVITY and e["properties"].get("device_id") == device_id]
            for act in sorted(acts, key=lambda e: e["properties"].get("first_seen", 0)):
                label, key = act["to"][0], str(act["to"][1])
                name = names.get((label, key))
                shown = f"{label} {key}" + (f" '{name}'" if name else "")
                lines.append(f"    {_ACTIVITY[act['label']]} {shown} x{act['properties'].get('count', 1)}")
    return lines


def run_demo(settings: Settings, *, spec_path: str | None = None, data: Path | None = None, member: str = "m1",
             progress: Callable[[Metrics, float], None] | None = None) -> DemoResult:
    """Run every pipeline over the bundled events, then summarise the graph.

    Raises:
        NotFoundError: No spec file, or no sample events for a pipeline.
    """
    data = data or bundled_data()
    spec_file = Path(spec_path or "pipelines.yaml")
    if not spec_file.exists():
        raise NotFoundError(f"no spec at {spec_file}", hint="run rdg demo from the project folder or pass --spec")
    env = dict(os.environ)
    env.setdefault("RDG_DATA", str(data))
    spec = load_spec(spec_file, env=env)
    dead_file = Path(settings.state_dir) / "demo" / "dead-letter.jsonl"
    dead_file.parent.mkdir(parents=True, exist_ok=True)
    dead_file.write_text("")
    dead = DeadLetterSpec("file", str(dead_file))
    opener = default_opener(settings)
    runs = []
    for name in spec.pipelines:
        events = data / "events" / f"{name}.jsonl"
        if not events.exists():
            raise NotFoundError(f"no sample events for pipeline '{name}' at {events}",
                                hint="write them with: rdg sample --out DIR, then rdg demo --data DIR")
        runs.append(run_pipeline(spec, name, settings=settings, events=str(events), opener=opener,
                                 progress=progress, dead_letter=dead))
    graph = opener()
    try:
        dump = graph.dump()
    finally:
        graph.close()
    vertices = Counter(v["label"] for v in dump.get("vertices", []))
    edges = Counter(e["label"] for e in dump.get("edges", []))
    where = settings.gremlin_url if settings.gremlin_url != "embedded" else str(settings.graph_path)
    return DemoResult(runs, dict(sorted(vertices.items())), dict(sorted(edges.items())), member,
                      member_journey(dump, member), str(dead_file), where)
