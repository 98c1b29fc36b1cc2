"""The embedded graph's own errors, and the one spelling of where to go for what it refuses.

>>> raise unsupported_step("pageRank")
Traceback (most recent call last):
...
rdg.graph.embedded.errors.EmbeddedUnsupportedError: the embedded graph does not support the step pageRank() (hint: use JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin), or rewrite the query without it)
"""

from __future__ import annotations

from rdg.errors import RdgError

__all__ = ["JANUSGRAPH", "EmbeddedUnsupportedError", "TraversalError", "unsupported", "unsupported_step"]

JANUSGRAPH = "JanusGraph (--set gremlin_url=ws://127.0.0.1:8182/gremlin)"
"""Where to go for what the embedded graph refuses: the one spelling every hint uses."""


class EmbeddedUnsupportedError(RdgError):
    """The embedded graph cannot run this Gremlin step or argument (a clean refusal, never a
    different answer)."""


class TraversalError(RdgError):
    """The traversal itself is wrong for the data, as TinkerGraph would say too (a sum of
    strings, a select of a missing key with no default, a property on a missing element)."""


def unsupported_step(name: str) -> EmbeddedUnsupportedError:
    """The refusal for a step the embedded graph does not run."""
    return EmbeddedUnsupportedError(f"the embedded graph does not support the step {name}()",
                                    hint=f"use {JANUSGRAPH}, or rewrite the query without it")


def unsupported(what: str) -> EmbeddedUnsupportedError:
    """The refusal for a form of a step (an argument, a modulator) the embedded graph does not run."""
    return EmbeddedUnsupportedError(f"the embedded graph cannot run {what}",
                                    hint=f"use {JANUSGRAPH}, or rewrite the query")
