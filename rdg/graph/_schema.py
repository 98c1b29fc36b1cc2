"""What a :class:`GraphModel` needs in the graph: property keys with types, labels, indexes.

Pure and backend-neutral: :func:`desired` checks the model (names, types, one type per
property name) and lists what must exist; backends create it.

>>> from rdg.graph._model import GraphModel, VertexLabel, EdgeLabel
>>> m = GraphModel(vertices=(VertexLabel("member", "member_id", {"country": "string"}),
...                          VertexLabel("device", "device_id")),
...                edges=(EdgeLabel("used", "member", "device"),))
>>> s = desired(m)
>>> s.properties["member_id"], s.properties["_ts"], s.indexes["rdg_member_by_member_id"]
('string', 'long', ('member', 'member_id'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rdg.errors import ConflictError, SpecError
from rdg.graph._model import GraphModel
from rdg.graph._plan import EDGE_RESERVED, check_name

__all__ = ["INTERNAL_PROPERTIES", "JANUS_TYPES", "Schema", "desired"]

INTERNAL_PROPERTIES: dict[str, str] = {
    "_key": "string", "_ts": "long", "_src": "string", "_eids": "string",
    "first_seen": "long", "last_seen": "long", "count": "long",
}
"""Properties rdg itself keeps on vertices and edges (plus ``_ts_<prop>`` per property)."""

JANUS_TYPES = {"string": "String", "int": "Integer", "long": "Long", "float": "Float",
               "double": "Double", "boolean": "Boolean", "date": "Long"}
"""JanusGraph data type per model type; dates are stored as epoch milliseconds."""


@dataclass
class Schema:
    """Everything a model needs, by name."""

    properties: dict[str, str] = field(default_factory=dict)
    vertex_labels: list[str] = field(default_factory=list)
    edge_labels: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """edge label -> the (from, to) vertex labels it joins."""
    indexes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """index name -> (vertex label, key property)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"properties": dict(sorted(self.properties.items())),
                "vertex_labels": sorted(self.vertex_labels),
                "edge_labels": {k: [list(c) for c in v] for k, v in sorted(self.edge_labels.items())},
                "indexes": {k: list(v) for k, v in sorted(self.indexes.items())}}


def _add_prop(s: Schema, name: str, kind: str, where: str) -> None:
    if kind not in JANUS_TYPES:
        raise SpecError([], message=f"{where}: property {name!r} has unknown type {kind!r}; "
                                    f"use one of {', '.join(JANUS_TYPES)}")
    old = s.properties.get(name)
    if old is not None and JANUS_TYPES[old] != JANUS_TYPES[kind]:
        raise ConflictError(f"{where}: property {name!r} is {kind} here but {old} elsewhere in the model",
                            hint="one property name has one type across all labels; rename one of them")
    s.properties.setdefault(name, kind)


def desired(model: GraphModel) -> Schema:
    """Validate ``model`` and list what it needs.

    Raises:
        SpecError: A name is not ``^[A-Za-z_][A-Za-z0-9_]*$``, a type is unknown, or an edge
            joins an undeclared vertex label.
        ConflictError: One property name has two types.
    """
    s = Schema()
    for name, kind in INTERNAL_PROPERTIES.items():
        s.properties[name] = kind
    for v in model.vertices:
        for name, what in [(v.label, "vertex label"), (v.key, "key property"), *((p, "property") for p in v.properties)]:
            if err := check_name(name, what):
                raise SpecError([], message=f"vertex {v.label!r}: {err}")
        if v.label in s.vertex_labels:
            raise SpecError([], message=f"vertex label {v.label!r} is declared twice")
        s.vertex_labels.append(v.label)
        _add_prop(s, v.key, "string" if v.key not in v.properties else v.properties[v.key], f"vertex {v.label!r}")
        for name, kind in v.properties.items():
            if name.startswith("_"):
                raise SpecError([], message=f"vertex {v.label!r}: property {name!r} starts with '_' (reserved)")
            _add_prop(s, name, kind, f"vertex {v.label!r}")
            s.properties[f"_ts_{name}"] = "long"
        s.indexes[f"rdg_{v.label}_by_{v.key}"] = (v.label, v.key)
    for e in model.edges:
        for name, what in [(e.label, "edge label"), *((p, "property") for p in e.properties)]:
            if err := check_name(name, what):
                raise SpecError([], message=f"edge {e.label!r}: {err}")
        for end in (e.from_label, e.to_label):
            if end not in s.vertex_labels:
                raise SpecError([], message=f"edge {e.label!r} joins undeclared vertex label {end!r}")
        if e.label in s.vertex_labels:
            raise SpecError([], message=f"{e.label!r} is both a vertex and an edge label")
        if (e.from_label, e.to_label) not in s.edge_labels.setdefault(e.label, []):
            s.edge_labels[e.label].append((e.from_label, e.to_label))
        for name, kind in e.properties.items():
            if name.startswith("_") or name in EDGE_RESERVED:
                raise SpecError([], message=f"edge {e.label!r}: property {name!r} is reserved for rdg")
            _add_prop(s, name, kind, f"edge {e.label!r}")
            s.properties[f"_ts_{name}"] = "long"
    return s
