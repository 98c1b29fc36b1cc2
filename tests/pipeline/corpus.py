"""A generated corpus for the three example pipelines, and an independent oracle of the graph.

``make_corpus`` writes JSONL lines for ``playback`` (Debezium CDC), ``live_viewing`` (request
log) and ``games`` (flat SDK events) that share accounts, profiles and devices, with replayed
lines, shuffled order, malformed lines, filtered events and same-time writes of different
values (ties). ``oracle`` computes, from those lines alone, the graph ``pipelines.yaml`` says
they make; ``actual`` reads a graph handle into the same shape; ``diff`` says how two differ.

The oracle is plain Python written from ``pipelines.yaml`` and docs/pipelines.md; it imports
nothing from ``rdg`` (the last-write-wins rule is reimplemented in :func:`wins`, and a test
checks it against the documented ``rdg.graph.wins``).

>>> c = make_corpus(accounts=4, seed=1)
>>> sorted(c.lines)
['games', 'live_viewing', 'playback']
>>> want = oracle(c)
>>> want.vertex_counts["account"] >= 4 and sum(want.dead_letters.values()) == sum(c.malformed.values())
True
>>> len(shared_accounts(c)) >= 4
True
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "PIPELINES",
    "Corpus",
    "Edge",
    "EdgeKey",
    "Expected",
    "VertexKey",
    "actual",
    "decided_by_ties",
    "diff",
    "make_corpus",
    "oracle",
    "shared_accounts",
    "wins",
]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "rdg" / "data"
PIPELINES = ("playback", "live_viewing", "games")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T0 = int((datetime(2026, 11, 20, 18, 0, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000
_DAY = 24 * 3600 * 1000
_COUNTRIES = ["NL", "US", "BR", "JP", "DE"]

EdgeKey = tuple[str, str, str, str, str]
"""(edge label, from label, from key, to label, to key)."""
VertexKey = tuple[str, str]
"""(label, key value)."""


# ------------------------------------------------------------------------------------------
# the corpus
# ------------------------------------------------------------------------------------------

@dataclass
class Corpus:
    """JSONL lines per pipeline, the side tables they join, and what the generator put in."""

    lines: dict[str, list[str]]
    tables: dict[str, dict[str, dict[str, Any]]]
    """``titles``, ``live_events``, ``games``: key -> row, as read from the data folder."""
    members: dict[str, tuple[list[str], list[str]]]
    """Member account -> (its profiles, its devices): meant to appear in all three pipelines."""
    seed: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    """Replayed (exact duplicate) lines per pipeline."""
    malformed: dict[str, int] = field(default_factory=dict)
    """Lines per pipeline the generator made bad on purpose (each must be dead-lettered)."""
    filtered: dict[str, int] = field(default_factory=dict)
    """Lines per pipeline a ``where`` condition must drop."""
    ties: dict[str, int] = field(default_factory=dict)
    """Groups of same-time writes with different values per pipeline (``cross`` spans pipelines)."""

    def write(self, folder: Path) -> dict[str, Path]:
        """Write ``<folder>/<pipeline>.jsonl`` for each pipeline; returns the paths."""
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, lines in self.lines.items():
            path = folder / f"{name}.jsonl"
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            out[name] = path
        return out


def _read_tables(data: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The side tables pipelines.yaml joins, read with csv/json (not rdg)."""
    with (data / "titles.csv").open(encoding="utf-8", newline="") as fh:
        titles = {row["title_id"]: dict(row) for row in csv.DictReader(fh)}
    live = {}
    for line in (data / "live_events.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            live[str(row["live_event_id"])] = row
    games = {}
    for line in (data / "games.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            games[str(row["game_id"])] = row
    return {"titles": titles, "live_events": live, "games": games}


def _iso(ms: int, offset_h: int = 0) -> str:
    """ISO-8601 of epoch ``ms`` in UTC (``Z``) or at a fixed offset."""
    dt = (_EPOCH + timedelta(milliseconds=ms)).astimezone(timezone(timedelta(hours=offset_h)))
    text = dt.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


def _timestamp(rng: random.Random, ms: int) -> Any:
    """``ms`` as an ISO string (UTC, or at an offset) or as epoch ms: the same instant."""
    kind = rng.random()
    if kind < 0.55:
        return _iso(ms)
    if kind < 0.8:
        return _iso(ms, rng.choice([-5, 1, 2, 9]))
    return ms


@dataclass
class _Profile:
    """One member profile and its devices (the tablet is shared by the account's profiles)."""

    account: str
    country: str
    profile: str
    name: str
    phone: str
    tablet: str
    os: str
    model: str


class _Gen:
    """Builds the lines; ids are unique per pipeline (``ps``/``r``/``gs`` prefixes)."""

    def __init__(self, rng: random.Random, tables: dict[str, dict[str, dict[str, Any]]], prefix: str) -> None:
        self.rng = rng
        self.prefix = prefix
        self.titles = sorted(tables["titles"])
        self.lives = sorted(tables["live_events"])
        self.games = sorted(tables["games"])
        self.out: dict[str, list[str]] = {p: [] for p in PIPELINES}
        self.dropped: set[str] = set()
        """Lines a ``where`` condition must drop (a replay of one is dropped again)."""
        self.n = 0

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"{self.prefix}{kind}{self.n}"

    def when(self) -> int:
        """A random event time in the first three days, on a whole second."""
        return _T0 + self.rng.randint(0, 3 * 24 * 3600) * 1000

    # -- playback: Debezium envelopes --------------------------------------------------------
    def after(self, p: _Profile, sid: str, device: str, title: str, position: int, ms: int, *,
              device_type: str | None = None, name: Any = "keep", country: Any = "keep") -> dict[str, Any]:
        """An ``after`` image of a playback_sessions row."""
        rng = self.rng
        row: dict[str, Any] = {"session_id": sid, "account_id": p.account, "profile_id": p.profile,
                               "device_id": device, "title_id": title, "position_s": position,
                               "updated_at": _timestamp(rng, ms)}
        row["profile_name"] = p.name if name == "keep" else name
        if row["profile_name"] is None:
            del row["profile_name"]
        row["country"] = p.country if country == "keep" else country
        if row["country"] is None:
            del row["country"]
        if device_type is None:
            kinds = ["Mobile", "mobile", "PHONE"] if device == p.phone else ["tablet", "TABLET", "Tab"]
            device_type = rng.choice(kinds)
        if device_type != "":
            row["device_type"] = device_type
        if rng.random() < 0.1:
            row["position_s"] = str(position)  # a numeric string: cast to long
        return row

    def envelope(self, op: str, after: dict[str, Any] | None, before: dict[str, Any] | None = None) -> str:
        """A CDC envelope line; some are wrapped in ``payload``."""
        env: dict[str, Any] = {"op": op, "before": before, "after": after, "ts_ms": _T0,
                               "source": {"table": "playback_sessions"}}
        if self.rng.random() < 0.15:
            env = {"schema": {"type": "struct"}, "payload": env}
        return json.dumps(env, sort_keys=True)

    def playback_session(self, p: _Profile, device: str, *, title: str | None = None) -> None:
        """One session: a create (or snapshot read), 0-2 updates, sometimes a delete."""
        rng = self.rng
        sid = self._id("ps")
        if title is None:
            title = "t404" if rng.random() < 0.03 else rng.choice(self.titles)
        start = self.when()
        position = 0
        before = None
        for step in range(rng.randint(1, 3)):
            position += rng.randint(30, 900)
            name: Any = "keep"
            country: Any = "keep"
            roll = rng.random()
            if roll < 0.04:
                name = ""  # an empty value counts as missing: no name from this event
            elif roll < 0.08:
                name = None
            elif roll < 0.1:
                country = None  # missing: the spec's default "??" is written
            after = self.after(p, sid, device, title, position, start + position * 1000
                               + (rng.randint(1, 999) if rng.random() < 0.2 else 0), name=name, country=country)
            op = ("r" if rng.random() < 0.1 else "c") if step == 0 else "u"
            self.out["playback"].append(self.envelope(op, after, before))
            before = after
        if rng.random() < 0.05 and before is not None:  # a delete: filtered, history stays
            line = self.envelope("d", None, before)
            self.out["playback"].append(line)
            self.dropped.add(line)

    # -- live viewing: request/response log ---------------------------------------------------
    def request(self, account: str, profile: str, device: str, ms: int, *, event: str | None = None,
                status: Any = 200, quality: Any = "pick", body: Any = "auto", rid: str | None = None) -> dict[str, Any]:
        """One request-log record of the live manifest API."""
        rng = self.rng
        event = event or rng.choice(self.lives)
        headers = {"x-account-id": account, "x-profile-id": profile, "x-device-id": device,
                   "user-agent": "rdg-test"}
        query: dict[str, Any] = {"format": "hls"}
        if quality == "pick":
            quality = rng.choice(["HD", "hd", "sd", "UHD", "", None])
        if quality is not None:
            query["quality"] = quality
        if body == "auto":
            payload = {"live_event_id": event, "cdn": f"edge-{rng.randint(1, 4)}"}
            body = json.dumps(payload) if rng.random() < 0.7 else payload  # JSON text or an object
        return {"request_id": rid or self._id("r"), "ts": _timestamp(rng, ms),
                "request": {"method": "GET", "path": f"/v1/live/{event}/manifest", "headers": headers,
                            "query": query},
                "response": {"status": str(status) if rng.random() < 0.1 else status, "body": body}}

    def live(self, record: dict[str, Any], *, dropped: bool = False) -> None:
        """Append a request-log line (``dropped``: one the spec filters out)."""
        line = json.dumps(record, sort_keys=True)
        self.out["live_viewing"].append(line)
        if dropped:
            self.dropped.add(line)

    # -- games: flat SDK events, epoch seconds --------------------------------------------------
    def game(self, p: _Profile, device: str, ms: int, *, game: str | None = None, score: Any = "pick",
             os_: Any = "pick", model: Any = "pick", duration: int | None = -1, sid: str | None = None) -> dict[str, Any]:
        """One session-end event (``started``/``ended`` in epoch seconds)."""
        rng = self.rng
        if game is None:
            game = "gm404" if rng.random() < 0.03 else rng.choice(self.games)
        if score == "pick":
            score = rng.choice([rng.randint(0, 999), rng.randint(1000, 4999), rng.randint(5000, 9000)])
            if rng.random() < 0.05:
                score = str(score)  # a numeric string: cast to long
            elif rng.random() < 0.05:
                score = None  # missing: default 0
        if os_ == "pick":
            os_ = p.os if device == p.phone else rng.choice(["iPadOS", "Android"])
            os_ = rng.choice([os_, os_.upper(), os_.lower()]) if rng.random() < 0.3 else os_
            if rng.random() < 0.08:
                os_ = None
        if model == "pick":
            model = p.model if device == p.phone else "Galaxy Tab S9"
            if rng.random() < 0.08:
                model = None
        started = ms // 1000
        dev: dict[str, Any] = {"id": device}
        if os_ is not None:
            dev["os"] = os_
        if model is not None:
            dev["model"] = model
        session: dict[str, Any] = {"id": sid or self._id("gs"),
                                   "started": str(started) if rng.random() < 0.05 else started}
        if duration == -1:
            duration = rng.randint(60, 1800) if rng.random() < 0.9 else None
        if duration is not None:
            session["ended"] = started + duration
        line: dict[str, Any] = {"session": session, "player": {"account": p.account, "profile": p.profile,
                                                               "device": dev},
                                "game": game, "level": rng.randint(1, 40)}
        if score is not None:
            line["score"] = score
        return line

    def games_line(self, record: dict[str, Any]) -> None:
        """Append a games line."""
        self.out["games"].append(json.dumps(record, sort_keys=True))


def make_corpus(accounts: int = 300, seed: int = 0, *, prefix: str = "", data: Path = DATA) -> Corpus:
    """A corpus of ``accounts`` member accounts for the three example pipelines.

    Every member account (``<prefix>c1``...) has 1-3 profiles, a phone per profile and a tablet
    shared by its profiles; each profile and device has valid events in all three pipelines.
    A few visitor accounts (``<prefix>v1``...) appear only in live_viewing and games (key-only
    account and profile vertices). Per pipeline: ~10% replayed lines, shuffled order (event
    times not monotonic), malformed lines, filtered lines, and tie groups (same event time,
    same property, different values), within and across pipelines.

    Args:
        accounts: Member accounts.
        seed: Random seed (same seed, same lines).
        prefix: Put before account, profile, device, session and request ids (not table ids).
        data: Folder of the side tables (``titles.csv``, ``live_events.jsonl``, ``games.jsonl``).
    """
    rng = random.Random(seed)
    tables = _read_tables(data)
    g = _Gen(rng, tables, prefix)
    ties = {p: 0 for p in (*PIPELINES, "cross")}
    phones = [("iOS", "iPhone 15"), ("Android", "Pixel 8"), ("Android", "Galaxy S24")]
    members: dict[str, tuple[list[str], list[str]]] = {}
    people: list[_Profile] = []
    by_account: dict[str, list[_Profile]] = {}
    for a in range(1, accounts + 1):
        account = f"{prefix}c{a}"
        country = rng.choice(_COUNTRIES)
        mine = []
        for k in range(1, rng.randint(1, 3) + 1):
            os_, model = rng.choice(phones)
            mine.append(_Profile(account, country, f"{account}-p{k}", f"Profile {k} of {account}",
                                 f"{account}-p{k}-phone", f"{account}-tab", os_, model))
        people.extend(mine)
        by_account[account] = mine
        members[account] = ([p.profile for p in mine], [p.phone for p in mine] + [mine[0].tablet])

    # every profile, on each of its devices, in every pipeline; then a few more at random
    for p in people:
        for device in (p.phone, p.tablet):
            g.playback_session(p, device)
            g.live(g.request(p.account, p.profile, device, g.when()))
            g.games_line(g.game(p, device, g.when()))
        for _ in range(rng.randint(0, 2)):
            g.playback_session(p, rng.choice([p.phone, p.tablet]))
        for _ in range(rng.randint(0, 1)):
            g.live(g.request(p.account, p.profile, rng.choice([p.phone, p.tablet]), g.when()))
        for _ in range(rng.randint(0, 1)):
            g.games_line(g.game(p, rng.choice([p.phone, p.tablet]), g.when()))

    # visitors: only live and games, on a web/phone device nothing else writes
    for v in range(1, max(2, accounts // 20) + 1):
        account = f"{prefix}v{v}"
        visitor = _Profile(account, "??", f"{account}-p1", "", f"{account}-web", f"{account}-web", "Web", "Browser")
        g.live(g.request(account, visitor.profile, f"{account}-tv", g.when()))  # a key-only device
        g.games_line(g.game(visitor, visitor.phone, g.when(), os_=None, model=None))

    # ties: same event time, same property, different values; each group later than anything else
    late = _T0 + 4 * _DAY
    for n, account in enumerate(sorted(by_account)[: max(3, accounts // 6)]):
        rng_p = by_account[account]
        p = rng_p[0]
        q = rng_p[-1]
        ms = late + n * 60_000
        kind = n % 5
        title = rng.choice(g.titles)
        if kind == 0:  # playback only: country, profile name, device_type ('TV' lowers to 'tv'), position_s
            for country, name, dtype, pos in (("NL", f"{p.name} A", "TV", 300), ("US", f"{p.name} B", "tablet", 299)):
                after = g.after(p, g._id("ps"), p.tablet, title, pos, ms, device_type=dtype, name=name, country=country)
                after["position_s"] = pos
                g.out["playback"].append(g.envelope("c", after))
            ties["playback"] += 1
        elif kind == 1:  # one CDC session updated twice in the same millisecond
            sid = g._id("ps")
            first = g.after(p, sid, p.phone, title, 100, ms, device_type="mobile")
            second = g.after(p, sid, p.phone, title, 250, ms, device_type="PHONE")
            first["position_s"], second["position_s"] = 100, 250
            g.out["playback"] += [g.envelope("c", first), g.envelope("u", second, first)]
            ties["playback"] += 1
        elif kind == 2:  # games: os, model, score/tier/duration on one device, one game, one second
            game = rng.choice(g.games)
            for os_, model, score, dur in (("iOS", "iPhone 15", 5000, 600), ("Android", "Pixel 8", 4999, 900)):
                g.games_line(g.game(p, p.phone, ms, game=game, score=score, os_=os_, model=model, duration=dur))
            ties["games"] += 1
        elif kind == 3:  # live: quality and device_id on one viewed_live edge, one millisecond
            event = rng.choice(g.lives)
            for device, quality in ((p.phone, "HD"), (q.tablet, "sd")):
                g.live(g.request(p.account, p.profile, device, ms + 7, event=event, quality=quality,
                                 body=json.dumps({"live_event_id": event})))
            ties["live_viewing"] += 1
        else:  # across pipelines: device_type (playback vs games' 'mobile'), used.vertical
            variant = (n // 5) % 3
            if variant < 2:  # 'tablet' beats 'mobile'; 'laptop' loses to it; 'playback' beats both verticals
                after = g.after(q, g._id("ps"), q.tablet, title, 60, ms, device_type=("tablet", "Laptop")[variant])
                g.out["playback"].append(g.envelope("c", after))
            g.games_line(g.game(q, q.tablet, ms))
            if variant > 0:  # without playback, 'live' beats 'games'
                g.live(g.request(q.account, q.profile, q.tablet, ms, status=200))
            ties["cross"] += 1

    # filtered: failed requests, no live event in the body, a body that is not JSON
    ghost = f"{prefix}ghost"  # only in filtered events: never in the graph
    for _ in range(max(3, accounts // 15)):
        p = rng.choice(people)
        status = rng.choice([404, 500, 503])
        g.live(g.request(p.account, p.profile, p.phone, g.when(), status=status, body=json.dumps({"error": "busy"})),
               dropped=True)
    g.live(g.request(ghost, f"{ghost}-p1", f"{ghost}-dev", g.when(), body=json.dumps({"cdn": "edge-1"})), dropped=True)
    g.live(g.request(ghost, f"{ghost}-p1", f"{ghost}-dev", g.when(), body="{truncated"), dropped=True)

    # replays: exact duplicate lines, some more than once
    duplicates = {}
    for name in PIPELINES:
        lines = g.out[name]
        dupes = [rng.choice(lines) for _ in range(max(3, len(lines) // 10))]
        dupes += dupes[:3]
        duplicates[name] = len(dupes)
        lines.extend(dupes)

    bad = _malformed(prefix, sorted(tables["live_events"]))
    malformed, filtered = {}, {}
    for name in PIPELINES:
        bad_lines = set(bad[name])
        lines = g.out[name] + bad[name] + bad[name][:1]  # one malformed line is replayed too
        rng.shuffle(lines)
        g.out[name] = lines
        malformed[name] = sum(1 for line in lines if line in bad_lines)
        filtered[name] = sum(1 for line in lines if line in g.dropped)
    return Corpus(g.out, tables, members, seed, duplicates, malformed, filtered, ties)


def _malformed(prefix: str, lives: list[str]) -> dict[str, list[str]]:
    """Bad lines per pipeline, each a different reason to dead-letter."""
    acc, prof, dev = f"{prefix}c1", f"{prefix}c1-p1", f"{prefix}c1-p1-phone"
    ok_after = {"session_id": f"{prefix}bad-ps", "account_id": acc, "profile_id": prof, "device_id": dev,
                "title_id": "t1", "updated_at": "2026-11-20T18:00:00Z", "position_s": 5}

    def env(op: Any, after: Any, before: Any = None) -> str:
        return json.dumps({"op": op, "before": before, "after": after})

    playback = [
        "{not json",
        "[1, 2, 3]",
        json.dumps({"op": "u", "before": None}),                           # no after image
        env("x", ok_after),                                                # unknown op
        env("d", None, None),                                              # a delete without a before image
        env("c", {k: v for k, v in ok_after.items() if k != "profile_id"}),  # missing required
        env("c", ok_after | {"profile_id": ""}),                           # empty counts as missing
        env("c", ok_after | {"updated_at": "yesterday"}),                  # not a time
        env("c", ok_after | {"position_s": "ten"}),                        # not a whole number
        env("c", ok_after | {"position_s": 12.5}),                         # not a whole number
        env("c", ok_after | {"profile_name": {"first": "Ann"}}),           # an object for a string
        env("d", None, {k: v for k, v in ok_after.items() if k != "title_id"}),  # a delete, missing required
    ]
    headers = {"x-account-id": acc, "x-profile-id": prof, "x-device-id": dev}
    ok_req = {"request_id": f"{prefix}bad-r", "ts": "2026-11-20T19:00:00Z", "request": {"headers": headers},
              "response": {"status": 200, "body": json.dumps({"live_event_id": lives[0]})}}
    live = [
        "{not json",
        json.dumps({"request_id": f"{prefix}bad-r1", "ts": "2026-11-20T19:00:00Z", "response": {"status": 200}}),
        json.dumps(ok_req | {"request": "GET /v1/live"}),                  # request is not an object
        json.dumps(ok_req | {"request": {"headers": {k: v for k, v in headers.items() if k != "x-profile-id"}}}),
        json.dumps(ok_req | {"response": {"status": "OK", "body": "{}"}}),  # status not an int
        json.dumps(ok_req | {"response": {"body": "{}"}}),                 # no status
        json.dumps({k: v for k, v in ok_req.items() if k != "ts"}),        # no time
        json.dumps(ok_req | {"ts": True}),                                 # a boolean is not a time
        json.dumps(ok_req | {"response": {"status": 200, "body": json.dumps({"live_event_id": "ev-unknown"})}}),
        json.dumps(ok_req | {"request_id": {"id": 1}}),                    # an object for a string
    ]
    ok_game = {"session": {"id": f"{prefix}bad-gs", "started": 1795197600, "ended": 1795197900},
               "player": {"account": acc, "profile": prof, "device": {"id": dev, "os": "iOS"}}, "game": "gm1",
               "score": 10}
    games = [
        "{not json",
        "null",
        json.dumps(ok_game | {"score": "lots"}),                           # not a whole number
        json.dumps(ok_game | {"score": True}),                             # a boolean is not a number
        json.dumps(ok_game | {"score": -5}),                               # flows.games: no tier below 0 (raises)
        json.dumps(ok_game | {"session": {"id": f"{prefix}bad-gs2", "started": 1795197600, "ended": 1795197000}}),
        json.dumps(ok_game | {"session": {"started": 1795197600}}),        # no session id
        json.dumps(ok_game | {"session": {"id": f"{prefix}bad-gs3", "started": "soon"}}),
        json.dumps(ok_game | {"player": {"account": acc, "profile": prof}}),  # no device
        json.dumps(ok_game | {"game": ""}),                                # empty counts as missing
    ]
    return {"playback": playback, "live_viewing": live, "games": games}


# ------------------------------------------------------------------------------------------
# the oracle: pipelines.yaml's semantics, written out by hand
# ------------------------------------------------------------------------------------------

def wins(ts: int, value: Any, old_ts: int | None, old_value: Any = None) -> bool:
    """Last write wins: a newer event time; on equal times the greater value (by type name
    first when the types differ). Reimplemented here from the documented rule
    (``rdg.graph._plan.wins``), not imported; tests/pipeline/test_corpus.py checks they agree.

    >>> wins(5, "ios", 5, "android"), wins(5, "android", 5, "ios"), wins(4, "z", 5, "a")
    (True, False, False)
    """
    if old_ts is None:
        return True
    if ts != old_ts:
        return ts > old_ts
    if type(value) is not type(old_value):
        return type(value).__name__ > type(old_value).__name__
    return bool(value > old_value)


class _Bad(Exception):
    """This event is dead-lettered."""


class _Dropped(Exception):
    """A ``where`` condition drops this event (counted as filtered)."""


def _path(record: Any, dotted: str) -> Any:
    cur = record
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _ms(value: Any, unit: str | None) -> int:
    """Epoch ms from ISO-8601 (naive = UTC) or an epoch number (``unit``, else < 1e11 is seconds)."""
    if isinstance(value, bool):
        raise _Bad("a boolean is not a time")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            try:
                dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise _Bad(f"not a time: {value!r}") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return (dt - _EPOCH) // timedelta(milliseconds=1)
    if not isinstance(value, (int, float)):
        raise _Bad(f"not a time: {value!r}")
    if unit == "s" or (unit is None and abs(value) < 1e11):
        return int(round(value * 1000))
    return int(value)


def _field(record: Any, path: str, kind: str = "string", *, required: bool = False, default: Any = None,
           lower: bool = False, unit: str | None = None) -> Any:
    """One normalize field: missing ('' or absent) -> default, else dead if required, else None."""
    value = _path(record, path)
    if value is None or value == "":
        if default is not None:
            value = default
        elif required:
            raise _Bad(f"missing {path}")
        else:
            return None
    if kind == "timestamp":
        return _ms(value, unit)
    if isinstance(value, (dict, list)):
        raise _Bad(f"{path} is an object")
    if kind == "string":
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return text.lower() if lower else text
    if isinstance(value, bool):
        raise _Bad(f"{path}: a boolean is not a number")
    if isinstance(value, float):
        if value != int(value):
            raise _Bad(f"{path}: not a whole number")
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise _Bad(f"{path}: not a whole number") from None


@dataclass
class _Event:
    """One accepted event: its time, event id and the writes it makes."""

    ts: int
    eid: str
    vertices: list[tuple[str, str, dict[str, Any]]]
    edges: list[tuple[str, str, str, str, str, dict[str, Any]]]


def _json(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        raise _Bad("not JSON") from None
    if not isinstance(record, dict):
        raise _Bad("not a JSON object")
    return record


def _some(**props: Any) -> dict[str, Any]:
    """Properties with a value (a missing field writes nothing)."""
    return {k: v for k, v in props.items() if v is not None}


def _playback(line: str, tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> _Event:
    envelope = _json(line)
    if isinstance(envelope.get("payload"), dict):
        envelope = envelope["payload"]
    op = envelope.get("op")
    image = envelope.get("before") if op == "d" else envelope.get("after")
    if op not in ("c", "u", "d", "r") or not isinstance(image, dict):
        raise _Bad("not a CDC envelope")
    sid = _field(image, "session_id", required=True)
    account = _field(image, "account_id", required=True)
    profile = _field(image, "profile_id", required=True)
    name = _field(image, "profile_name")
    country = _field(image, "country", default="??")
    device = _field(image, "device_id", required=True)
    device_type = _field(image, "device_type", lower=True)
    title = _field(image, "title_id", required=True)
    position = _field(image, "position_s", "long", default=0)
    ts = _field(image, "updated_at", "timestamp", required=True)
    if op not in ("c", "u", "r"):
        raise _Dropped("a delete")
    row = tables["titles"].get(title) or {}
    return _Event(ts, sid, [
        ("account", account, _some(country=country)),
        ("profile", profile, _some(name=name)),
        ("device", device, _some(device_type=device_type)),
        ("title", title, _some(name=row.get("name") or None, genre=row.get("genre") or None)),
    ], [
        ("has_profile", "account", account, "profile", profile, {}),
        ("used", "profile", profile, "device", device, {"vertical": "playback"}),
        ("watched", "profile", profile, "title", title, {"position_s": position, "device_id": device}),
    ])


def _live(line: str, tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> _Event:
    record = _json(line)
    if not isinstance(record.get("request"), dict):
        raise _Bad("not a request log")
    for side in ("request", "response"):
        part = record.get(side)
        if isinstance(part, dict) and isinstance(part.get("body"), str) and part["body"][:1] in ("{", "["):
            try:
                part["body"] = json.loads(part["body"])
            except ValueError:
                pass  # stays text: nothing can be read from it
    rid = _field(record, "request_id", required=True)
    account = _field(record, "request.headers.x-account-id", required=True)
    profile = _field(record, "request.headers.x-profile-id", required=True)
    device = _field(record, "request.headers.x-device-id", required=True)
    quality = _field(record, "request.query.quality", default="sd", lower=True)
    status = _field(record, "response.status", "int", required=True)
    event = _field(record, "response.body.live_event_id")
    ts = _field(record, "ts", "timestamp", required=True)
    if not status < 400 or event is None:
        raise _Dropped("failed request or no live event")
    row = tables["live_events"].get(event)
    if row is None:
        raise _Bad(f"unknown live event {event}")  # a required join
    return _Event(ts, rid, [
        ("live_event", event, _some(name=row.get("name") or None, sport=row.get("sport") or None)),
    ], [
        ("has_profile", "account", account, "profile", profile, {}),
        ("used", "profile", profile, "device", device, {"vertical": "live"}),
        ("viewed_live", "profile", profile, "live_event", event, {"quality": quality, "device_id": device}),
    ])


def _games(line: str, tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> _Event:
    record = _json(line)
    sid = _field(record, "session.id", required=True)
    started = _field(record, "session.started", "timestamp", unit="s", required=True)
    ended = _field(record, "session.ended", "timestamp", unit="s")
    account = _field(record, "player.account", required=True)
    profile = _field(record, "player.profile", required=True)
    device = _field(record, "player.device.id", required=True)
    os_ = _field(record, "player.device.os", lower=True)
    model = _field(record, "player.device.model")
    game = _field(record, "game", required=True)
    score = _field(record, "score", "long", default=0)
    # flows/games.py:enrich_session: duration from start/end (raises if it ends first), a score tier
    duration = None
    if ended is not None:
        if ended < started:
            raise _Bad("session ends before it starts")
        duration = (ended - started) // 1000
    if score >= 5000:
        tier = "gold"
    elif score >= 1000:
        tier = "silver"
    elif score >= 0:
        tier = "bronze"
    else:
        raise _Bad("no tier for a negative score")
    row = tables["games"].get(game) or {}
    return _Event(started, sid, [
        ("device", device, _some(os=os_, model=model, device_type="mobile")),
        ("game", game, _some(name=row.get("name") or None, genre=row.get("genre") or None)),
    ], [
        ("has_profile", "account", account, "profile", profile, {}),
        ("used", "profile", profile, "device", device, {"vertical": "games"}),
        ("played", "profile", profile, "game", game,
         _some(score=score, duration_s=duration, tier=tier, device_id=device)),
    ])


_PARSERS: dict[str, Callable[[str, Mapping[str, Mapping[str, Mapping[str, Any]]]], _Event]] = {
    "playback": _playback, "live_viewing": _live, "games": _games}


@dataclass
class Edge:
    """What one edge must hold."""

    count: int
    first_seen: int
    last_seen: int
    properties: dict[str, Any]


@dataclass
class Expected:
    """A graph as the test compares it. ``==`` compares the graph only (vertex counts, vertex
    properties, edges); ``dead_letters``/``filtered`` are the oracle's, per pipeline."""

    vertex_counts: dict[str, int]
    vertices: dict[VertexKey, dict[str, Any]]
    edges: dict[EdgeKey, Edge]
    dead_letters: dict[str, int] = field(default_factory=dict, compare=False)
    filtered: dict[str, int] = field(default_factory=dict, compare=False)

    def only(self, labels: Iterable[str]) -> Expected:
        """The part ``graph.dump(labels=...)`` reads: those vertex labels and edges out of them."""
        keep = set(labels)
        vertices = {k: v for k, v in self.vertices.items() if k[0] in keep}
        return Expected({k: n for k, n in self.vertex_counts.items() if k in keep}, vertices,
                        {k: e for k, e in self.edges.items() if k[1] in keep}, dict(self.dead_letters),
                        dict(self.filtered))


def _accepted(corpus: Corpus) -> tuple[dict[str, list[_Event]], dict[str, int], dict[str, int]]:
    """Accepted events, dead letters and filtered lines per pipeline."""
    events: dict[str, list[_Event]] = {}
    dead: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for name in PIPELINES:
        events[name], dead[name], dropped[name] = [], 0, 0
        for line in corpus.lines.get(name, []):
            if not line.strip():
                continue
            try:
                events[name].append(_PARSERS[name](line, corpus.tables))
            except _Bad:
                dead[name] += 1
            except _Dropped:
                dropped[name] += 1
    return events, dead, dropped


def oracle(corpus: Corpus) -> Expected:
    """The graph all three pipelines must build from ``corpus`` (in any order, any batching).

    Per vertex property, and per edge property, the write that :func:`wins`; an edge counts
    its distinct event ids (``{session_id}``/``{request_id}``; all three pipelines write
    ``has_profile`` and ``used``), ``first_seen``/``last_seen`` are its earliest/latest event
    time (epoch ms); every edge endpoint exists (key only if nothing else wrote it).
    """
    events, dead, dropped = _accepted(corpus)
    props: dict[VertexKey, dict[str, tuple[int, Any]]] = {}
    edges: dict[EdgeKey, dict[str, Any]] = {}
    for name in PIPELINES:
        for ev in events[name]:
            for label, key, values in ev.vertices:
                row = props.setdefault((label, key), {})
                for prop, value in values.items():
                    old = row.get(prop)
                    if old is None or wins(ev.ts, value, old[0], old[1]):
                        row[prop] = (ev.ts, value)
            for label, fl, fk, tl, tk, values in ev.edges:
                props.setdefault((fl, fk), {})
                props.setdefault((tl, tk), {})
                e = edges.setdefault((label, fl, fk, tl, tk), {"eids": set(), "first": ev.ts, "last": ev.ts,
                                                               "props": {}})
                e["eids"].add(ev.eid)
                e["first"], e["last"] = min(e["first"], ev.ts), max(e["last"], ev.ts)
                for prop, value in values.items():
                    old = e["props"].get(prop)
                    if old is None or wins(ev.ts, value, old[0], old[1]):
                        e["props"][prop] = (ev.ts, value)
    counts: dict[str, int] = {}
    for label, _ in props:
        counts[label] = counts.get(label, 0) + 1
    return Expected(
        counts,
        {k: {p: v for p, (_, v) in row.items()} for k, row in props.items()},
        {k: Edge(len(e["eids"]), e["first"], e["last"], {p: v for p, (_, v) in e["props"].items()})
         for k, e in edges.items()},
        dead, dropped)


def decided_by_ties(corpus: Corpus) -> dict[str, list[str]]:
    """Vertex and edge properties whose value the tie-break picks: at their newest event time,
    accepted events wrote two or more different values (``{"vertex": [...], "edge": [...]}``)."""
    events, _, _ = _accepted(corpus)
    newest: dict[tuple[str, Any, str], tuple[int, set[str]]] = {}

    def see(kind: str, ident: Any, prop: str, ts: int, value: Any) -> None:
        old = newest.get((kind, ident, prop))
        if old is None or ts > old[0]:
            newest[(kind, ident, prop)] = (ts, {repr(value)})
        elif ts == old[0]:
            old[1].add(repr(value))

    for name in PIPELINES:
        for ev in events[name]:
            for label, key, values in ev.vertices:
                for prop, value in values.items():
                    see("vertex", (label, key), prop, ev.ts, value)
            for label, fl, fk, tl, tk, values in ev.edges:
                for prop, value in values.items():
                    see("edge", (label, fl, fk, tl, tk), prop, ev.ts, value)
    out: dict[str, list[str]] = {"vertex": [], "edge": []}
    for (kind, ident, prop), (_, written) in sorted(newest.items(), key=repr):
        if len(written) > 1:
            out[kind].append(f"{ident} {prop}: {sorted(written)}")
    return out


def shared_accounts(corpus: Corpus) -> set[str]:
    """Accounts whose every profile and every device those profiles used was written by
    accepted events of all three pipelines (computed by the oracle, not the generator)."""
    events, _, _ = _accepted(corpus)
    touched: dict[str, set[VertexKey]] = {}
    for name in PIPELINES:
        seen = touched[name] = set()
        for ev in events[name]:
            for label, key, _ in ev.vertices:
                seen.add((label, key))
            for _, fl, fk, tl, tk, _ in ev.edges:
                seen.update({(fl, fk), (tl, tk)})
    want = oracle(corpus)
    profiles: dict[str, set[str]] = {}
    devices: dict[str, set[str]] = {}
    for label, _, fk, _, tk in want.edges:
        if label == "has_profile":
            profiles.setdefault(fk, set()).add(tk)
    owner = {p: a for a, ps in profiles.items() for p in ps}
    for label, _, fk, _, tk in want.edges:
        if label == "used" and fk in owner:
            devices.setdefault(owner[fk], set()).add(tk)
    out = set()
    for account, ps in profiles.items():
        needed = {("account", account)} | {("profile", p) for p in ps} | {("device", d) for d in devices.get(account, ())}
        if devices.get(account) and all(needed <= touched[name] for name in PIPELINES):
            out.add(account)
    return out


# ------------------------------------------------------------------------------------------
# reading a graph, and comparing
# ------------------------------------------------------------------------------------------

def actual(graph: Any, labels: list[str] | None = None) -> Expected:
    """What ``graph`` (an ``rdg.graph.connect`` handle) holds, in the oracle's shape."""
    dump = graph.dump(labels=labels)
    counts: dict[str, int] = {}
    vertices: dict[VertexKey, dict[str, Any]] = {}
    for v in dump["vertices"]:
        counts[v["label"]] = counts.get(v["label"], 0) + 1
        key = v["key"] or v["properties"].get("_key")
        vertices[(v["label"], v["id"])] = {k: x for k, x in v["properties"].items()
                                           if not k.startswith("_") and k != key}
    refs = _resolve(graph, [end[1] for e in dump["edges"] for end in (e["from"], e["to"]) if end[0] == "?"])
    edges: dict[EdgeKey, Edge] = {}
    for e in dump["edges"]:
        p = e["properties"]
        src = refs.get(e["from"][1], tuple(e["from"])) if e["from"][0] == "?" else tuple(e["from"])
        dst = refs.get(e["to"][1], tuple(e["to"])) if e["to"][0] == "?" else tuple(e["to"])
        ident = (e["label"], src[0], src[1], dst[0], dst[1])
        if ident in edges:  # two edges for one identity: make it visible in the count
            edges[ident].count += int(p.get("count") or 0)
            continue
        edges[ident] = Edge(p.get("count"), p.get("first_seen"), p.get("last_seen"),
                            {k: x for k, x in p.items()
                             if not k.startswith("_") and k not in ("count", "first_seen", "last_seen")})
    return Expected(counts, vertices, edges)


def _resolve(graph: Any, ids: list[Any]) -> dict[Any, tuple[str, Any]]:
    """(label, key value) of vertices by backend id: ``dump(labels=...)`` leaves the far end of
    an edge out of those labels as ``["?", backend id]``."""
    if not ids:
        return {}
    from gremlin_python.process.graph_traversal import __

    out: dict[Any, tuple[str, Any]] = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), 500):
        rows = (graph.g.V(*unique[i:i + 500]).project("id", "l", "p").by(__.id_()).by(__.label())
                .by(__.value_map()).to_list())
        for row in rows:
            props = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in row["p"].items()}
            out[row["id"]] = (row["l"], props.get(props.get("_key", "")))
    return out


def diff(expected: Expected, got: Expected, limit: int = 20) -> list[str]:
    """Readable differences (at most ``limit`` lines, then how many more)."""
    out: list[str] = []
    for label in sorted(set(expected.vertex_counts) | set(got.vertex_counts)):
        a, b = expected.vertex_counts.get(label, 0), got.vertex_counts.get(label, 0)
        if a != b:
            out.append(f"vertices {label}: expected {a}, got {b}")
    for key in sorted(set(expected.vertices) | set(got.vertices), key=repr):
        a_v, b_v = expected.vertices.get(key), got.vertices.get(key)
        if a_v is None:
            out.append(f"unexpected vertex {key}: {b_v}")
        elif b_v is None:
            out.append(f"missing vertex {key}: {a_v}")
        else:
            for prop in sorted(set(a_v) | set(b_v)):
                if a_v.get(prop) != b_v.get(prop):
                    out.append(f"vertex {key} {prop}: expected {a_v.get(prop)!r}, got {b_v.get(prop)!r}")
    for ident in sorted(set(expected.edges) | set(got.edges), key=repr):
        a_e, b_e = expected.edges.get(ident), got.edges.get(ident)
        if a_e is None:
            out.append(f"unexpected edge {ident}: {b_e}")
        elif b_e is None:
            out.append(f"missing edge {ident}: {a_e}")
        else:
            for what in ("count", "first_seen", "last_seen"):
                if getattr(a_e, what) != getattr(b_e, what):
                    out.append(f"edge {ident} {what}: expected {getattr(a_e, what)!r}, got {getattr(b_e, what)!r}")
            for prop in sorted(set(a_e.properties) | set(b_e.properties)):
                if a_e.properties.get(prop) != b_e.properties.get(prop):
                    out.append(f"edge {ident} {prop}: expected {a_e.properties.get(prop)!r}, "
                               f"got {b_e.properties.get(prop)!r}")
    if expected.dead_letters and got.dead_letters and expected.dead_letters != got.dead_letters:
        out.append(f"dead letters: expected {expected.dead_letters}, got {got.dead_letters}")
    if len(out) > limit:
        out = out[:limit] + [f"... and {len(out) - limit} more"]
    return out
