"""The graph layer: the model, write records, and (from ``connect``) one handle for JanusGraph
Server or the embedded graph.

>>> import tempfile, os
>>> from rdg.graph import connect, VertexWrite, EdgeWrite
>>> graph = connect(os.path.join(tempfile.mkdtemp(), "g.sqlite"))
>>> r = graph.upsert([EdgeWrite("used", ("member", "member_id", "m1"), ("device", "device_id", "d1"),
...                             ts=1, event_id="e1")])
>>> (r.vertices, r.edges, r.failed)
(2, 1, [])
>>> graph.g.V().has("member", "member_id", "m1").out("used").values("device_id").to_list()
['d1']
>>> graph.close()
"""

from rdg.graph import queries
from rdg.graph._check import CheckReport, RepairReport, check, repair
from rdg.graph._connect import connect
from rdg.graph.embedded.backend import EmbeddedUnsupportedError, GraphDamagedError
from rdg.graph._handle import Graph
from rdg.graph._model import (
    EdgeLabel,
    EdgeWrite,
    Endpoint,
    GraphModel,
    PropertyType,
    UpsertResult,
    VertexLabel,
    VertexWrite,
    from_wire,
    to_wire,
)
from rdg.graph._plan import compact, owner, owner_partition, why_invalid, wins
from rdg.graph._schema import Schema, desired
from rdg.graph._text import GremlinSyntaxError, QueryTooLargeError, QueryWritesError

__all__ = [
    "GraphDamagedError", "GremlinSyntaxError", "QueryTooLargeError", "QueryWritesError",
    "CheckReport",
    "EdgeLabel",
    "EdgeWrite",
    "EmbeddedUnsupportedError",
    "Endpoint",
    "Graph",
    "GraphModel",
    "PropertyType",
    "RepairReport",
    "Schema",
    "UpsertResult",
    "VertexLabel",
    "VertexWrite",
    "check",
    "compact",
    "connect",
    "desired",
    "from_wire",
    "owner",
    "owner_partition",
    "queries",
    "repair",
    "to_wire",
    "why_invalid",
    "wins",
]
