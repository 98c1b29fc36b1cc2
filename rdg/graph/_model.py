"""The graph model and the write records that flow into the graph layer.

These plain, frozen records are the contract between the pipelines (which produce them) and
the graph backends (which upsert them). Values are data, never Gremlin text.

>>> v = VertexWrite("member", "member_id", "m1", {"country": "NL"}, ts=1_700_000_000_000)
>>> e = EdgeWrite("used", ("member", "member_id", "m1"), ("device", "device_id", "d1"),
...               ts=1_700_000_000_000, event_id="evt-1")
>>> e.identity
('used', 'member', 'm1', 'device', 'd1')
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "EdgeLabel",
    "EdgeWrite",
    "Endpoint",
    "GraphModel",
    "PropertyType",
    "UpsertResult",
    "VertexLabel",
    "VertexWrite",
    "from_wire",
    "to_wire",
]

PropertyType = Literal["string", "int", "long", "float", "double", "boolean", "date"]

Endpoint = tuple[str, str, Any]
"""``(label, key_property, key_value)`` naming one vertex."""


@dataclass(frozen=True)
class VertexLabel:
    """A vertex label, the one property that identifies its vertices, and its other properties."""

    label: str
    key: str
    """Property whose value is unique per vertex of this label (a composite index exists on it)."""
    properties: dict[str, PropertyType] = field(default_factory=dict)
    """Other property names and types (the key's type is ``string``)."""
    ttl_seconds: int | None = None
    """If set, ``rdg graph expire`` drops vertices not written for this long."""


@dataclass(frozen=True)
class EdgeLabel:
    """An edge label and the vertex labels it joins (``from`` -> ``to``)."""

    label: str
    from_label: str
    to_label: str
    properties: dict[str, PropertyType] = field(default_factory=dict)
    ttl_seconds: int | None = None


@dataclass(frozen=True)
class GraphModel:
    """Every vertex and edge label a deployment uses; schema init creates exactly this."""

    vertices: tuple[VertexLabel, ...] = ()
    edges: tuple[EdgeLabel, ...] = ()

    def vertex(self, label: str) -> VertexLabel | None:
        """The vertex label named ``label``, or ``None``."""
        return next((v for v in self.vertices if v.label == label), None)

    def edge(self, label: str) -> EdgeLabel | None:
        """The edge label named ``label``, or ``None``."""
        return next((e for e in self.edges if e.label == label), None)


@dataclass(frozen=True)
class VertexWrite:
    """Upsert one vertex: create it if missing, and set each property unless a newer event set it.

    ``ts`` is the event time in epoch milliseconds; ``source`` traces the write
    (``pipeline@topic:partition:offset``).
    """

    label: str
    key: str
    key_value: Any
    properties: dict[str, Any] = field(default_factory=dict)
    ts: int = 0
    source: str = ""

    @property
    def identity(self) -> tuple[str, Any]:
        """What makes two writes hit the same vertex."""
        return (self.label, self.key_value)


@dataclass(frozen=True)
class EdgeWrite:
    """Upsert one edge, unique per (from, label, to); keeps first_seen, last_seen and count.

    ``event_id`` makes ``count`` exact: replaying the same event does not bump it. Missing
    endpoints are created with their key only.
    """

    label: str
    from_vertex: Endpoint
    to_vertex: Endpoint
    properties: dict[str, Any] = field(default_factory=dict)
    ts: int = 0
    event_id: str = ""
    source: str = ""

    @property
    def identity(self) -> tuple[str, str, Any, str, Any]:
        """What makes two writes hit the same edge."""
        return (self.label, self.from_vertex[0], self.from_vertex[2], self.to_vertex[0], self.to_vertex[2])


@dataclass
class UpsertResult:
    """What one ``upsert`` call did: counts, and elements that failed for good with why."""

    vertices: int = 0
    edges: int = 0
    requests: int = 0
    failed: list[tuple[VertexWrite | EdgeWrite, str]] = field(default_factory=list)
    deferred: list[EdgeWrite] = field(default_factory=list)
    """Edges not written yet because their in-vertex belongs to another writer and does not
    exist yet (only with ``owns``): hand them to ``upsert`` again a little later."""


def _wire_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime):  # the graph stores datetimes as epoch milliseconds
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() * 1000)
    return value


def to_wire(write: VertexWrite | EdgeWrite) -> dict[str, Any]:
    """A write as a JSON-ready dict (the message writers exchange over Kafka).

    >>> w = EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"), ts=5, event_id="e1")
    >>> from_wire(to_wire(w)) == w
    True
    """
    props = {k: _wire_value(v) for k, v in write.properties.items()}
    if isinstance(write, VertexWrite):
        return {"v": [write.label, write.key, write.key_value], "p": props, "ts": write.ts, "src": write.source}
    return {"e": write.label, "f": list(write.from_vertex), "t": list(write.to_vertex), "p": props, "ts": write.ts,
            "id": write.event_id, "src": write.source}


def from_wire(data: dict[str, Any]) -> VertexWrite | EdgeWrite:
    """The write that :func:`to_wire` made ``data`` from.

    Raises:
        ValueError: ``data`` is not a write.
    """
    try:
        if "v" in data:
            label, key, value = data["v"]
            return VertexWrite(label, key, value, dict(data.get("p") or {}), int(data["ts"]), str(data.get("src", "")))
        return EdgeWrite(data["e"], tuple(data["f"]), tuple(data["t"]), dict(data.get("p") or {}),  # type: ignore[arg-type]
                         int(data["ts"]), str(data.get("id", "")), str(data.get("src", "")))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not a graph write: {str(data)[:200]}") from err
