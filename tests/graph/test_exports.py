"""The public surface of rdg.graph, pinned (names others code against)."""

import rdg.graph


def test_graph_exports() -> None:
    assert sorted(rdg.graph.__all__) == sorted([
        "EdgeLabel", "EdgeWrite", "EmbeddedUnsupportedError", "Endpoint", "Graph", "GraphModel", "PropertyType",
        "GraphDamagedError", "GremlinSyntaxError", "QueryTooLargeError", "QueryWritesError",
        "Schema", "UpsertResult", "VertexLabel", "VertexWrite", "CheckReport", "RepairReport", "check", "repair",
        "compact", "connect", "desired", "from_wire", "owner", "owner_partition",
        "queries", "to_wire", "why_invalid", "wins",
    ])
    for name in rdg.graph.__all__:
        assert getattr(rdg.graph, name) is not None
    assert {"journey", "neighbors", "path"} <= set(rdg.graph.queries.__all__)
