"""The graph sink against a storage fault that trying again will not fix (issue 10, finding 9:
`rdg run` retried `disk I/O error` every 5 s for ever): a few tries, then one clear error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rdg.errors import RdgError
from rdg.graph import EdgeWrite, connect
from rdg.pipeline import _sinks
from rdg.spec import DeadLetterSpec


def _damaged(tmp_path: Path) -> Path:
    path = tmp_path / "graph.sqlite"
    with connect(str(path)) as graph:
        graph.upsert([EdgeWrite("used", ("profile", "profile_id", f"p{i}"), ("device", "device_id", f"d{i}"),
                                ts=1000 + i, event_id=str(i)) for i in range(200)])
    with path.open("r+b") as f:  # a real SQLite file with two pages overwritten
        f.seek(path.stat().st_size // 2 // 4096 * 4096)
        f.write(os.urandom(8192))
    return path


def test_a_lasting_storage_fault_stops_the_sink_after_a_few_tries(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = _damaged(tmp_path)
    waits: list[float] = []
    monkeypatch.setattr(_sinks.time, "sleep", waits.append)
    sink = _sinks.GraphSink(lambda: connect(str(path)), DeadLetterSpec("file", str(tmp_path / "dead.jsonl")),
                            None, None, "games")
    part = sink.build("s", 0, 1)
    write = EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d9"), ts=5, event_id="e")
    with pytest.raises(RdgError) as err:
        part.write_batch([[write]])
    assert f"gave up after {_sinks.STORAGE_ATTEMPTS} tries" in str(err.value) and "damaged" in str(err.value)
    assert len(waits) == _sinks.STORAGE_ATTEMPTS - 1  # backed off between tries, then gave up


def test_a_transient_fault_is_still_retried_until_it_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rdg.errors import RetryableError

    monkeypatch.setattr(_sinks.time, "sleep", lambda _: None)
    tries = {"n": 0}

    def opener():
        tries["n"] += 1
        if tries["n"] < 10:  # more than STORAGE_ATTEMPTS: a server away is waited for
            raise RetryableError("server away")
        return connect(str(tmp_path / "ok.sqlite"))

    part = _sinks.GraphSink(opener, DeadLetterSpec("file", str(tmp_path / "dead.jsonl")), None, None, "games").build("s", 0, 1)
    part.write_batch([[EdgeWrite("used", ("profile", "profile_id", "p1"), ("device", "device_id", "d1"), ts=5,
                                 event_id="e")]])
    assert tries["n"] == 10
