"""Backend-neutral helpers to read elements back: flat property maps and the full dump.

>>> flat({"name": ["x"], "n": [1], "count": 3})
{'count': 3, 'n': 1, 'name': 'x'}
>>> vertex_ref("device", {"_key": "device_id", "device_id": "d1"})
('device', 'd1')
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["build_dump", "flat", "vertex_ref"]


def flat(props: dict[Any, Any]) -> dict[str, Any]:
    """A valueMap (``{k: [v]}`` or ``{k: v}``) as ``{k: v}``, string keys only, sorted by key."""
    out: dict[str, Any] = {}
    for key in sorted((k for k in props if isinstance(k, str))):
        value = props[key]
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        out[key] = value
    return out


def vertex_ref(label: str, props: dict[str, Any]) -> tuple[str, Any]:
    """``(label, key_value)`` of a vertex written by rdg (it stores its key's name in ``_key``)."""
    key = props.get("_key")
    return (label, props.get(key) if key else None)


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, repr(value))


def build_dump(vertices: Iterable[tuple[Any, str, dict[str, Any]]],
               edges: Iterable[tuple[str, Any, Any, dict[str, Any]]]) -> dict[str, Any]:
    """The deterministic dump from raw rows.

    Args:
        vertices: ``(backend_id, label, flat_props)`` per vertex.
        edges: ``(label, from_backend_id, to_backend_id, flat_props)`` per edge.

    Returns:
        ``{"vertices": [...], "edges": [...]}`` sorted by identity; backend ids left out, so
        two backends holding the same data dump the same.
    """
    refs: dict[Any, tuple[str, Any]] = {}
    vs = []
    for vid, label, props in vertices:
        ref = vertex_ref(label, props)
        refs[vid] = ref
        vs.append({"label": label, "key": props.get("_key"), "id": ref[1], "properties": props})
    es = []
    for label, from_id, to_id, props in edges:
        es.append({"label": label, "from": list(refs.get(from_id, ("?", from_id))),
                   "to": list(refs.get(to_id, ("?", to_id))), "properties": props})
    vs.sort(key=lambda v: (v["label"], _sort_key(v["id"]), repr(sorted(v["properties"].items()))))
    es.sort(key=lambda e: (e["label"], e["from"][0], _sort_key(e["from"][1]), e["to"][0], _sort_key(e["to"][1])))
    return {"vertices": vs, "edges": es}
