"""The Gremlin steps of the embedded graph, one module per family; importing this package
registers them all with :func:`rdg.graph.embedded.traversal.step`."""

from rdg.graph.embedded.steps import basic, has, properties, start, vertex, write  # noqa: F401
