"""The prefetch API: recommendations come from the graph, carry jittered lifetimes, refresh on change."""

from __future__ import annotations

import time
import uuid
from typing import AsyncIterator

import httpx
import pytest

from rdg.graph import EdgeWrite, VertexWrite, connect
from rdg.live import EventStore, PrefetchService, Recommender, Stage, create_app, new_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _journeys(suffix: str = "") -> list:
    """p1 follows football (watched a football title, viewed a football live event); p2 watches drama."""
    ts = 1_700_000_000_000
    p1, p2 = ("profile", "profile_id", f"p1{suffix}"), ("profile", "profile_id", f"p2{suffix}")
    return [
        VertexWrite("title", "title_id", f"t-derby{suffix}", {"genre": "football"}, ts=ts),
        VertexWrite("title", "title_id", f"t-drama{suffix}", {"genre": "drama"}, ts=ts),
        VertexWrite("live_event", "live_event_id", f"le-cup{suffix}", {"sport": "football"}, ts=ts),
        EdgeWrite("watched", p1, ("title", "title_id", f"t-derby{suffix}"), ts=ts, event_id=f"w1{suffix}"),
        EdgeWrite("viewed_live", p1, ("live_event", "live_event_id", f"le-cup{suffix}"), ts=ts, event_id=f"v1{suffix}"),
        EdgeWrite("watched", p2, ("title", "title_id", f"t-drama{suffix}"), ts=ts, event_id=f"w2{suffix}"),
    ]


def _events(suffix: str = ""):
    now = time.time()
    final = new_event("final", title="Cup final", start=now + 3600, end=now + 9000,
                      stages=[Stage("pre", 0, {"art": "pre.jpg"}), Stage("main", 900, {"art": "main.jpg"})],
                      tags={"genre": "football", "sport": "football"}, related_titles=[f"t-derby{suffix}", "t-other"])
    gala = new_event("gala", title="Drama awards", start=now + 1800, end=now + 5400,
                     tags={"genre": "drama"}, related_titles=[f"t-drama{suffix}"])
    return final, gala


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "graph.sqlite"
    with connect(str(path)) as graph:
        result = graph.upsert(_journeys())
        assert not result.failed
    return str(path)


@pytest.fixture
async def service(store: EventStore, graph_file: str) -> AsyncIterator[PrefetchService]:
    for event in _events():
        await store.create(event)
    svc = PrefetchService(store, lambda: connect(graph_file), max_age_s=300, jitter=0.2, seed=7)
    await svc.start()
    yield svc
    await svc.close()


@pytest.fixture
async def http(service: PrefetchService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        yield client


async def test_ranking_comes_from_each_members_graph(http: httpx.AsyncClient, service: PrefetchService) -> None:
    p1 = (await http.get("/v1/members/p1/live")).json()
    p2 = (await http.get("/v1/members/p2/live")).json()
    nobody = (await http.get("/v1/members/p-unknown/live")).json()
    assert [e["event_id"] for e in p1["events"]] == ["final", "gala"]
    assert [e["event_id"] for e in p2["events"]] == ["gala", "final"]
    assert p1["events"][0]["score"] > 0 and "watched t-derby" in p1["events"][0]["reasons"][0]
    assert {"1x genre=football", "1x sport=football"} <= set(p1["events"][0]["reasons"])  # title + live event
    assert [e["score"] for e in nobody["events"]] == [0.0, 0.0]  # no journeys: soonest first
    assert [e["event_id"] for e in nobody["events"]] == ["gala", "final"]
    content = p1["events"][0]["content"]
    assert set(content) == {"scheduled", "delayed", "pre", "main", "ended", "cancelled"}
    assert content["main"]["art"] == "main.jpg" and content["main"]["row"] == ["t-other", "t-derby"]
    assert service.computations == 3


async def test_responses_carry_jittered_lifetimes(http: httpx.AsyncClient) -> None:
    ages = []
    for _ in range(40):
        response = await http.get("/v1/members/p1/live")
        assert response.status_code == 200
        directive = response.headers["cache-control"]
        assert directive.startswith("private, max-age=")
        ages.append(int(directive.split("=")[1]))
    assert all(240 <= a <= 360 for a in ages)
    assert len(set(ages)) > 10  # expiries spread out, not one herd


async def test_materialised_until_the_schedule_changes(http: httpx.AsyncClient, service: PrefetchService,
                                                       store: EventStore) -> None:
    first = (await http.get("/v1/members/p1/live")).json()
    again = (await http.get("/v1/members/p1/live")).json()
    assert first == again and service.computations == 1
    new_start = time.time() + 7200
    await store.transition("final", "delay", by="ops", new_start=new_start)
    deadline = time.time() + 10
    while service.events["final"].seq < 2 and time.time() < deadline:
        await __import__("asyncio").sleep(0.02)
    after = (await http.get("/v1/members/p1/live")).json()
    final = next(e for e in after["events"] if e["event_id"] == "final")
    assert final["state"] == "delayed" and final["content"]["delayed"]["starts_at"] == new_start
    assert service.computations == 2
    await store.transition("final", "cancel", by="ops")
    while service.events["final"].seq < 3 and time.time() < deadline:
        await __import__("asyncio").sleep(0.02)
    assert [e["event_id"] for e in (await http.get("/v1/members/p1/live")).json()["events"]] == ["gala"]


async def test_bad_requests_get_clear_errors(http: httpx.AsyncClient) -> None:
    bad = await http.get("/v1/members/p%20drop/live")
    assert bad.status_code == 400 and "bad member id" in bad.json()["error"]
    missing = await http.get("/v1/events/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "no live event 'nope'"
    weird = await http.get("/v1/events/a.b")
    assert weird.status_code == 400
    assert (await http.get("/v1/events/final")).json()["state"] == "scheduled"
    assert [e["event_id"] for e in (await http.get("/v1/events")).json()["events"]] == ["gala", "final"]
    stats = (await http.get("/v1/stats")).json()
    assert stats["bucket_ms"] == 100 and sum(n for _, n in stats["counts"]) == 1  # the bad member request


async def test_recommendations_from_janusgraph(gremlin_url: str) -> None:
    suffix = "-" + uuid.uuid4().hex[:8]
    with connect(gremlin_url) as graph:
        result = graph.upsert(_journeys(suffix))  # the same writes the pipelines make
        assert not result.failed
        recs = Recommender(graph.g).rank(f"p1{suffix}", _events(suffix))
    assert [r.event.event_id for r in recs] == ["final", "gala"]
    assert recs[0].score >= 5 and recs[1].score == 0


async def test_materialised_responses_are_bounded(service: PrefetchService, http: httpx.AsyncClient) -> None:
    """Issue 10 finding 9: 3,000 member ids kept 3,001 responses for ever."""
    service.max_members = 50
    for i in range(300):
        assert (await http.get(f"/v1/members/m{i}/live")).status_code == 200
    assert len(service.materialised) == 50
    assert list(service.materialised)[-1] == "m299" and "m0" not in service.materialised
    again = (await http.get("/v1/members/m0/live")).json()  # dropped, so computed again: same answer
    assert again["member_id"] == "m0" and len(service.materialised) == 50
