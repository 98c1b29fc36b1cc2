"""The graph layer: the model, write records, and (from ``connect``) one handle for JanusGraph
Server or the embedded graph.
"""

from rdg.graph._model import (
    EdgeLabel,
    EdgeWrite,
    Endpoint,
    GraphModel,
    PropertyType,
    UpsertResult,
    VertexLabel,
    VertexWrite,
)

__all__ = [
    "EdgeLabel",
    "EdgeWrite",
    "Endpoint",
    "GraphModel",
    "PropertyType",
    "UpsertResult",
    "VertexLabel",
    "VertexWrite",
]
