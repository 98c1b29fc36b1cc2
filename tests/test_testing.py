"""``rdg.testing`` as users get it: the pytest plugin's fixtures and the wait helpers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rdg.graph import GraphModel, VertexLabel, VertexWrite
from rdg.testing import async_wait_until, wait_until


def test_the_documented_example_runs(rdg_graph) -> None:  # noqa: ANN001 - the plugin's fixture
    rdg_graph.init_schema(GraphModel((VertexLabel("member", "member_id", {"plan": "string"}),), ()))
    rdg_graph.upsert([VertexWrite("member", "member_id", "m1", {"plan": "basic"}, ts=1)])
    assert rdg_graph.query("g.V().has('member', 'member_id', m).values('plan')", {"m": "m1"}) == ["basic"]


def test_waiting_returns_the_first_truthy_value_and_names_what_it_waited_for() -> None:
    seen = iter([0, None, "", 7])
    assert wait_until(lambda: next(seen), every=0.001) == 7
    with pytest.raises(AssertionError, match=r"waiting for the queue to drain \(last: \[\]\)"):
        wait_until(lambda: [], timeout=0.01, what="the queue to drain")
    with pytest.raises(AssertionError, match="waiting for a coroutine"):
        asyncio.run(async_wait_until(lambda: asyncio.sleep(0, result=0), timeout=0.01, what="a coroutine"))


def test_a_project_of_its_own_gets_the_fixtures_without_configuration(tmp_path: Path) -> None:
    """The plugin is registered by installing rdg: a fresh project's test uses rdg_graph."""
    (tmp_path / "test_theirs.py").write_text(textwrap.dedent('''
        from rdg.graph import GraphModel, VertexLabel, VertexWrite

        def test_a_member_is_written(rdg_graph):
            rdg_graph.init_schema(GraphModel((VertexLabel("member", "member_id"),), ()))
            rdg_graph.upsert([VertexWrite("member", "member_id", "m1", {}, ts=1)])
            assert rdg_graph.query("g.V().has('member', 'member_id', 'm1').count()") == [1]
    '''))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
