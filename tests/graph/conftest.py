"""Graph fixtures: one graph per backend, with labels unique to this test run.

The JanusGraph dev server is shared, so every test writes under its own label prefix and drops
what it wrote afterwards.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator

import pytest

from rdg.graph import EdgeLabel, GraphModel, VertexLabel, connect

BACKENDS = ["embedded", pytest.param("janusgraph", marks=pytest.mark.integration)]


class Names:
    """Labels and key names unique to one test: ``names.member`` -> ``t1a2b3c_member``.

    Fresh key names matter on JanusGraph: a composite index on a key that already exists must
    wait (tens of seconds) for the server to register it; on a new key it is enabled at once.
    """

    def __init__(self) -> None:
        self.prefix = "t" + uuid.uuid4().hex[:8] + "_"

    def __getattr__(self, name: str) -> str:
        return self.prefix + name

    def model(self) -> GraphModel:
        return GraphModel(
            vertices=(
                VertexLabel(self.account, self.account_id, {"plan": "string"}),
                VertexLabel(self.profile, self.profile_id, {"name": "string", "age": "long"}, ttl_seconds=60),
                VertexLabel(self.device, self.device_id, {"os": "string"}),
                VertexLabel(self.title, self.title_id, {"name": "string"}),
            ),
            edges=(
                EdgeLabel(self.has_profile, self.account, self.profile),
                EdgeLabel(self.used, self.profile, self.device, {"vertical": "string"}, ttl_seconds=60),
                EdgeLabel(self.watched, self.profile, self.title, {"device_id": "string", "position_s": "long"}),
            ),
        )

    def vertex_labels(self) -> list[str]:
        return [self.account, self.profile, self.device, self.title]


@pytest.fixture
def names() -> Names:
    return Names()


@pytest.fixture(params=BACKENDS)
def graph(request: pytest.FixtureRequest, tmp_path: Any, names: Names) -> Iterator[Any]:
    """A connected graph on each backend (parametrised); JanusGraph data is dropped after."""
    if request.param == "embedded":
        g = connect(str(tmp_path / "graph.sqlite"))
    else:
        g = connect(request.getfixturevalue("gremlin_url"))
    try:
        yield g
    finally:
        if g.backend == "janusgraph":
            g.g.V().has_label(*names.vertex_labels()).drop().iterate()
        g.close()


@pytest.fixture
def both(tmp_path: Any, names: Names, gremlin_url: str) -> Iterator[tuple[Any, Any]]:
    """The embedded graph and JanusGraph side by side (for parity tests)."""
    emb = connect(str(tmp_path / "graph.sqlite"))
    jan = connect(gremlin_url)
    try:
        yield emb, jan
    finally:
        jan.g.V().has_label(*names.vertex_labels()).drop().iterate()
        jan.close()
        emb.close()


@pytest.fixture
def dump_of(names: Names) -> Callable[[Any], dict[str, Any]]:
    return lambda g: g.dump(labels=names.vertex_labels())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The TinkerPop tables per feature file, when that suite ran."""
    import sys

    module = sys.modules.get("tests.graph.test_integration_tinkerpop")
    for report in getattr(module, "REPORTS", []):
        terminalreporter.section(report.splitlines()[0].rstrip(":"))
        for line in report.splitlines()[1:]:
            terminalreporter.write_line(line)
