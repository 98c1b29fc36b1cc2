"""The embedded graph: rdg's own Gremlin machine over a SQLite file (no server).

- :mod:`~rdg.graph.embedded.store`: vertices, edges and properties as SQLite rows;
- :mod:`~rdg.graph.embedded.traversal`: steps, traversals, the bytecode compiler;
- :mod:`~rdg.graph.embedded.steps`: the Gremlin steps, one module per family;
- :mod:`~rdg.graph.embedded.engine`: runs bytecode (and a gremlinpython remote connection);
- :mod:`~rdg.graph.embedded.backend`: the :class:`~rdg.graph.Graph` backend over all of it.
"""

from rdg.graph.embedded.engine import EmbeddedConnection, execute
from rdg.graph.embedded.errors import JANUSGRAPH, EmbeddedUnsupportedError, TraversalError
from rdg.graph.embedded.store import Store

__all__ = ["JANUSGRAPH", "EmbeddedConnection", "EmbeddedUnsupportedError", "Store", "TraversalError", "execute"]
