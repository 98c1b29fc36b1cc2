"""What the games pipeline of pipelines.yaml must write, computed independently of rdg's code.

Kept deliberately naive: read each JSON line, skip the malformed ones by the same rules a
person would apply, and count distinct sessions per edge.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

GAMES = {"gm1": ("Block Party", "puzzle"), "gm2": ("Sky Racer", "racing"), "gm3": ("Word Hunt", "word")}


def _valid(line: str) -> dict[str, Any] | None:
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if not isinstance(ev, dict):
        return None
    s, p = ev.get("session") or {}, ev.get("player") or {}
    if not (s.get("id") and s.get("started") and p.get("account") and p.get("profile")
            and (p.get("device") or {}).get("id") and ev.get("game")):
        return None
    if not isinstance(ev.get("score", 0), int):
        return None
    if s.get("ended") is not None and s["ended"] < s["started"]:
        return None
    return ev


def with_prefix(lines: Iterable[str], prefix: str) -> list[str]:
    """The same game events with ``prefix`` on account, profile, device and session ids (game ids
    stay, so the bundled games table still joins); lines that are not JSON objects stay as they are."""
    out = []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if isinstance(ev.get("session"), dict) and ev["session"].get("id"):
            ev["session"]["id"] = prefix + ev["session"]["id"]
        p = ev.get("player") or {}
        for key in ("account", "profile"):
            if p.get(key):
                p[key] = prefix + p[key]
        if isinstance(p.get("device"), dict) and p["device"].get("id"):
            p["device"]["id"] = prefix + p["device"]["id"]
        out.append(json.dumps(ev))
    return out


def expected_games(lines: Iterable[str]) -> tuple[dict[tuple[str, str], dict[str, Any]],
                                                                   dict[tuple[str, str, str], int],
                                                                   dict[tuple[str, str, str], dict[str, Any]], int]:
    """``(vertices {(label, key): props}, edge counts {(label, from, to): n}, edge props, malformed)``.

    """
    vertices: dict[tuple[str, str], dict[str, Any]] = {}
    vertex_ts: dict[tuple[str, str, str], int] = {}
    sessions: dict[tuple[str, str, str], set[str]] = {}
    props: dict[tuple[str, str, str], dict[str, Any]] = {}
    prop_ts: dict[tuple[str, str, str], int] = {}
    malformed = 0

    def vertex(label: str, key: str, values: dict[str, Any], ts: int) -> None:
        row = vertices.setdefault((label, key), {})
        for k, v in values.items():
            if v is None:
                continue
            if vertex_ts.get((label, key, k), -1) <= ts:
                row[k] = v
                vertex_ts[(label, key, k)] = ts

    def edge(label: str, src: str, dst: str, sid: str, values: dict[str, Any], ts: int) -> None:
        ident = (label, src, dst)
        sessions.setdefault(ident, set()).add(sid)
        vertices.setdefault(("profile", src) if label != "has_profile" else ("account", src), {})
        to_label = {"has_profile": "profile", "used": "device", "played": "game"}[label]
        vertices.setdefault((to_label, dst), {})
        if prop_ts.get(ident, -1) <= ts:
            props[ident] = values
            prop_ts[ident] = ts

    for line in lines:
        if not line.strip():
            continue
        ev = _valid(line)
        if ev is None:
            malformed += 1
            continue
        s, p = ev["session"], ev["player"]
        ts = s["started"] * 1000
        acc, prof, dev, game = p["account"], p["profile"], p["device"]["id"], ev["game"]
        sid = s["id"]
        name, genre = GAMES.get(ev["game"], (None, None))
        os_ = (p["device"].get("os") or None)
        vertex("device", dev, {"os": os_.lower() if os_ else None, "model": p["device"].get("model"),
                               "device_type": "mobile"}, ts)
        vertex("game", game, {"name": name, "genre": genre}, ts)
        score = ev.get("score", 0)
        tier = "gold" if score >= 5000 else "silver" if score >= 1000 else "bronze"
        played = {"score": score, "tier": tier, "device_id": dev}
        if s.get("ended") is not None:
            played["duration_s"] = s["ended"] - s["started"]
        edge("has_profile", acc, prof, sid, {}, ts)
        edge("used", prof, dev, sid, {"vertical": "games"}, ts)
        edge("played", prof, game, sid, played, ts)
    return vertices, {k: len(v) for k, v in sessions.items()}, props, malformed
