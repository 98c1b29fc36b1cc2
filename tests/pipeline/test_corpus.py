"""The corpus oracle (tests/pipeline/corpus.py) against the embedded graph, serially.

All three example pipelines run with the real runner (``run_pipeline``, what ``rdg run NAME
--events FILE`` calls) over the corpus's JSONL files into one embedded graph file; the graph
must equal the oracle, and the dead letters must be the malformed lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from rdg.config import Settings
from rdg.graph import connect
from rdg.graph._plan import wins as rdg_wins
from rdg.pipeline import RunResult, load_spec, run_pipeline
from rdg.spec import DeadLetterSpec
from tests.pipeline.corpus import (
    DATA,
    PIPELINES,
    ROOT,
    Corpus,
    Expected,
    actual,
    decided_by_ties,
    diff,
    make_corpus,
    oracle,
    shared_accounts,
    wins,
)

pytestmark = pytest.mark.timeout(600)


def test_make_corpus_300_shares_profiles_and_devices_across_all_three_verticals() -> None:
    """300 member accounts in all three verticals, with replays, malformed lines and ties."""
    corpus = make_corpus(300)
    shared = shared_accounts(corpus)
    assert len(shared) >= 300 and set(corpus.members) <= shared
    want = oracle(corpus)
    for name in PIPELINES:
        lines = corpus.lines[name]
        assert len(lines) - len(set(lines)) >= 30, name  # replays
        assert want.dead_letters[name] == corpus.malformed[name] >= 10, name
        assert want.filtered[name] == corpus.filtered[name], name
        assert corpus.ties[name] >= 10, name
    assert corpus.ties["cross"] >= 10
    decided = decided_by_ties(corpus)
    assert len(decided["vertex"]) >= 50 and len(decided["edge"]) >= 50
    assert make_corpus(300).lines == corpus.lines  # deterministic for a seed
    assert make_corpus(300, seed=1).lines != corpus.lines


def test_event_times_are_not_monotonic_and_ties_decide() -> None:
    """Shuffled event times; a tie at the newest time keeps the greater (normalized) value."""
    corpus = make_corpus(30, seed=3)
    times = [json.loads(x)["session"]["started"] for x in corpus.lines["games"] if x.startswith('{"game"')]
    assert any(int(a) > int(b) for a, b in zip(times, times[1:]))
    want = oracle(corpus)
    # tie groups are the newest writes of their elements: the greater value must be the one kept
    assert want.vertices[("account", "c1")]["country"] == "US"  # 'NL' vs 'US' at one time
    assert want.vertices[("device", "c1-tab")]["device_type"] == "tv"  # 'TV' (lowered) vs 'tablet'


def test_wins_is_the_documented_rule() -> None:
    """The oracle's own last-write-wins agrees with rdg's documented ``wins``."""
    cases: list[tuple[int, Any, int | None, Any]] = [
        (6, "ios", 5, "android"), (4, "ios", 5, "android"), (5, "ios", 5, "android"), (5, "android", 5, "ios"),
        (5, "same", 5, "same"), (5, 300, 5, 299), (5, 299, 5, 300), (5, "1", 5, 2), (5, 2, 5, "1"),
        (1, "x", None, None), (5, "tv", 5, "tablet"), (5, "playback", 5, "live")]
    for case in cases:
        assert wins(*case) == rdg_wins(*case), case


@dataclass
class Run:
    """The corpus, the oracle, what the runs reported and the graph they built."""

    corpus: Corpus
    want: Expected
    got: Expected
    got_accounts: Expected
    results: dict[str, RunResult]
    letters: dict[str, int]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """All three pipelines, one after the other, over a 60-account corpus into one embedded graph."""
    tmp = tmp_path_factory.mktemp("corpus")
    corpus = make_corpus(60, seed=7)
    files = corpus.write(tmp / "events")
    spec = load_spec(ROOT / "pipelines.yaml", env={"RDG_DATA": str(DATA)})
    graph_file = tmp / "graph.sqlite"
    settings = Settings(state_dir=str(tmp / "state"), gremlin_url=str(graph_file))
    results, letters = {}, {}
    for name in PIPELINES:
        dead = tmp / f"dead-{name}.jsonl"
        results[name] = run_pipeline(spec, name, settings=settings, events=str(files[name]),
                                     dead_letter=DeadLetterSpec("file", str(dead)))
        letters[name] = len(dead.read_text().splitlines()) if dead.exists() else 0
    with connect(str(graph_file)) as graph:
        got, got_accounts = actual(graph), actual(graph, labels=["account"])
    return Run(corpus, oracle(corpus), got, got_accounts, results, letters)


def test_dead_letters_and_filtered_events_match_the_oracle(run: Run) -> None:
    """Every line is read; malformed ones are dead-lettered, filtered ones counted."""
    for name in PIPELINES:
        result = run.results[name]
        assert result.events_in == len(run.corpus.lines[name]), name
        assert result.filtered == run.want.filtered[name] == run.corpus.filtered[name], name
    dead = {name: r.dead_letters for name, r in run.results.items()}
    assert dead == run.letters == run.want.dead_letters == run.corpus.malformed


def test_the_embedded_graph_equals_the_oracle(run: Run) -> None:
    """The whole graph, exactly: every vertex, edge, count, first_seen, last_seen and property."""
    assert run.got == run.want, "\n".join(diff(run.want, run.got))


def test_diff_is_readable() -> None:
    """``diff`` names the element, the field, what was expected and what was there."""
    want = oracle(make_corpus(5, seed=2))
    got = oracle(make_corpus(5, seed=2))
    ident = next(k for k in got.edges if k[0] == "watched")
    got.edges[ident].count += 1
    got.vertices[("account", "c1")]["country"] = "XX"
    del got.edges[next(k for k in got.edges if k[0] == "played")]
    lines = diff(want, got)
    assert f"edge {ident} count: expected {want.edges[ident].count}, got {want.edges[ident].count + 1}" in lines
    assert any(x.startswith("vertex ('account', 'c1') country: expected") and x.endswith("got 'XX'") for x in lines)
    assert any(x.startswith("missing edge ('played'") for x in lines)
    assert len(diff(want, got, limit=1)) == 2 and diff(want, want) == []
