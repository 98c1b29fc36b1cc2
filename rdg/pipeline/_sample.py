"""Sample events for the three example verticals, with duplicates, out-of-order and malformed ones.

Deterministic for a seed. Members (accounts) are ``m1``, ``m2``, ... (so ``rdg journey m1``
works); each has 1-3 profiles ``m1-p1``...; the playback, live and games events share the same
account, profile and device ids.

>>> sets = generate(members=3, seed=1)
>>> sorted(sets)
['games', 'live_viewing', 'playback']
>>> any(line == "{not json" for line in sets["games"])
True
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["SampleStats", "TITLES", "LIVE_EVENTS", "GAMES", "generate", "write_samples", "write_tables"]

TITLES = [
    ("t1", "Dark Waters", "thriller"), ("t2", "The Long Road", "drama"), ("t3", "Tiny Planets", "documentary"),
    ("t4", "Laugh Track", "comedy"), ("t5", "Signal Lost", "sci-fi"), ("t6", "Harbour Lights", "drama"),
]
LIVE_EVENTS = [
    ("ev1", "Cup Final", "football", "2026-11-20T19:00:00Z"), ("ev2", "Grand Slam Night", "tennis", "2026-11-21T18:00:00Z"),
    ("ev3", "Comedy Live", "comedy", "2026-11-22T20:00:00Z"),
]
GAMES = [("gm1", "Block Party", "puzzle"), ("gm2", "Sky Racer", "racing"), ("gm3", "Word Hunt", "word")]
_COUNTRIES = ["NL", "US", "BR", "JP", "DE"]
_TV = [("tv", "LG OLED"), ("tv", "Samsung QN90"), ("web", "Chrome"), ("tablet", "iPad Air")]
_PHONES = [("ios", "iPhone 15"), ("android", "Pixel 8"), ("android", "Galaxy S24")]
_BASE = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)


@dataclass
class SampleStats:
    """How many lines of each kind a file got."""

    good: int = 0
    duplicates: int = 0
    malformed: int = 0


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def generate(members: int = 6, *, seed: int = 1, sessions: int = 4) -> dict[str, list[str]]:
    """JSONL lines per pipeline (``playback``, ``live_viewing``, ``games``).

    Args:
        members: Number of member accounts (``m1``..``mN``), each with 1-3 profiles.
        seed: Random seed (same seed, same lines).
        sessions: Sessions per member per vertical (about).
    """
    rng = random.Random(seed)
    profiles = []
    for account_no in range(1, members + 1):
        account = f"m{account_no}"
        country = rng.choice(_COUNTRIES)
        home = f"dev-tv-{account_no}"
        for k in range(1, rng.randint(1, 3) + 1):
            n = len(profiles) + 1
            profiles.append({"account": account, "country": country, "profile": f"{account}-p{k}",
                             "name": f"Profile {k} of {account}", "home": home,
                             "home_kind": _TV[account_no % len(_TV)], "phone": f"dev-ph-{account}-{k}",
                             "phone_kind": _PHONES[n % len(_PHONES)]})
    out: dict[str, list[str]] = {"playback": [], "live_viewing": [], "games": []}

    # playback: CDC envelopes; each session has a create then 1-3 updates; some arrive out of order
    seq = 0
    for p in profiles:
        for _ in range(sessions):
            seq += 1
            sid = f"ps{seq}"
            title = rng.choice(TITLES)[0]
            on_phone = rng.random() < 0.4
            device = p["phone"] if on_phone else p["home"]
            dtype = "mobile" if on_phone else p["home_kind"][0]
            start = _BASE + timedelta(minutes=rng.randint(0, 3 * 24 * 60))
            position = 0
            before = None
            envelopes = []
            for step in range(rng.randint(2, 4)):
                position += rng.randint(60, 900)
                after = {"session_id": sid, "account_id": p["account"], "profile_id": p["profile"],
                         "profile_name": p["name"], "country": p["country"], "device_id": device,
                         "device_type": dtype.upper() if step == 0 else dtype, "title_id": title,
                         "position_s": position, "updated_at": _iso(start + timedelta(seconds=position))}
                op = "c" if step == 0 else "u"
                envelopes.append({"op": op, "ts_ms": int((start + timedelta(seconds=position)).timestamp() * 1000),
                                  "before": before, "after": after, "source": {"table": "playback_sessions"}})
                before = after
            if rng.random() < 0.3:  # an update arrives before the one it follows
                envelopes[-1], envelopes[-2] = envelopes[-2], envelopes[-1]
            out["playback"].extend(json.dumps(e, sort_keys=True) for e in envelopes)
    # live viewing: request logs; some 5xx (filtered), some duplicates (retried delivery)
    req = 0
    for p in profiles:
        for _ in range(max(1, sessions // 2)):
            req += 1
            ev = rng.choice(LIVE_EVENTS)
            device = rng.choice([p["home"], p["phone"]])
            at = datetime.fromisoformat(ev[3].replace("Z", "+00:00")) + timedelta(seconds=rng.randint(0, 5400))
            status = 503 if req % 7 == 0 else 200  # a failed request is not viewing: filtered out
            body = {"live_event_id": ev[0], "cdn": f"edge-{rng.randint(1, 4)}"} if status == 200 else {"error": "busy"}
            line = {"request_id": f"r{req}", "ts": _iso(at) if req % 3 else int(at.timestamp() * 1000),
                    "request": {"method": "GET", "path": f"/v1/live/{ev[0]}/manifest",
                                "headers": {"x-account-id": p["account"], "x-profile-id": p["profile"],
                                            "x-device-id": device},
                                "query": {"quality": rng.choice(["HD", "sd", "uhd"])}},
                    "response": {"status": status, "body": json.dumps(body)}}
            out["live_viewing"].append(json.dumps(line, sort_keys=True))
    # games: plain JSON, times in epoch seconds
    gseq = 0
    for p in profiles:
        for _ in range(sessions):
            gseq += 1
            started = _BASE + timedelta(minutes=rng.randint(0, 3 * 24 * 60))
            game = rng.choice(GAMES)[0]
            line = {"session": {"id": f"gs{gseq}", "started": int(started.timestamp()),
                                "ended": int(started.timestamp()) + rng.randint(60, 1800)},
                    "player": {"account": p["account"], "profile": p["profile"],
                               "device": {"id": p["phone"], "os": p["phone_kind"][0], "model": p["phone_kind"][1]}},
                    "game": game, "score": rng.randint(0, 9000), "level": rng.randint(1, 40)}
            out["games"].append(json.dumps(line, sort_keys=True))

    # duplicates (at-least-once delivery) and shuffling (out of order across sessions)
    for name, lines in out.items():
        dupes = [rng.choice(lines) for _ in range(max(1, len(lines) // 10))]
        lines.extend(dupes)
        rng.shuffle(lines)
    # malformed: each one exercises a different reason
    out["playback"] += [
        "{not json",
        json.dumps({"op": "u", "ts_ms": 1, "before": None}),                      # no after image
        json.dumps({"op": "c", "after": {"session_id": "bad1", "account_id": "m1", "device_id": "x",
                                         "title_id": "t1", "updated_at": "2026-11-20T18:00:00Z"}}),  # no profile
        json.dumps({"op": "c", "after": {"session_id": "bad2", "account_id": "m1", "profile_id": "m1-p1",
                                         "device_id": "x", "title_id": "t1", "updated_at": "yesterday"}}),
    ]
    out["live_viewing"] += [
        json.dumps({"request_id": "bad-r1", "ts": "2026-11-20T19:00:00Z", "response": {"status": 200}}),
        json.dumps({"request_id": "bad-r2", "ts": "2026-11-20T19:00:00Z",
                    "request": {"headers": {"x-account-id": "m1", "x-profile-id": "m1-p1", "x-device-id": "d"}},
                    "response": {"status": 200, "body": json.dumps({"live_event_id": "ev-unknown"})}}),
    ]
    out["games"] += [
        "{not json",
        json.dumps({"session": {"id": "bad-g1", "started": 1763661600}, "player": {"account": "m1", "profile": "m1-p1",
                    "device": {"id": "dev-ph-m1-1"}}, "game": "gm1", "score": "lots"}),
        json.dumps({"session": {"id": "bad-g2", "started": 1763661600, "ended": 1763661000},
                    "player": {"account": "m1", "profile": "m1-p1", "device": {"id": "dev-ph-m1-1"}}, "game": "gm1"}),
    ]
    for lines in out.values():  # malformed lines land in the middle, not only at the end
        tail = lines[-4:]
        del lines[-4:]
        for line in tail:
            lines.insert(rng.randint(0, len(lines)), line)
    return out


def write_tables(folder: Path) -> list[Path]:
    """Write the side tables the example spec joins: ``titles.csv``, ``live_events.jsonl``, ``games.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    titles = folder / "titles.csv"
    with titles.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title_id", "name", "genre"])
        writer.writerows(TITLES)
    live = folder / "live_events.jsonl"
    live.write_text("".join(json.dumps({"live_event_id": i, "name": n, "sport": s, "starts_at": t}) + "\n"
                            for i, n, s, t in LIVE_EVENTS))
    games = folder / "games.jsonl"
    games.write_text("".join(json.dumps({"game_id": i, "name": n, "genre": g}) + "\n" for i, n, g in GAMES))
    return [titles, live, games]


def write_samples(folder: Path, *, members: int = 6, seed: int = 1, sessions: int = 4) -> dict[str, Path]:
    """Write ``events/<pipeline>.jsonl`` under ``folder`` (plus the side tables); returns the event files."""
    events = folder / "events"
    events.mkdir(parents=True, exist_ok=True)
    write_tables(folder)
    out = {}
    for name, lines in generate(members, seed=seed, sessions=sessions).items():
        path = events / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[name] = path
    return out
