"""A JanusGraph Server of a test's own: a fresh, empty graph on a free port, inmemory or berkeleyje.

The shared session server holds every test's data; a test that compares a WHOLE graph with an
oracle, or stops the server and starts it again with its data (berkeleyje), starts its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from rdg.config import Settings
from rdg.stack import free_port


class PrivateJanusGraph:
    """Start with :meth:`up`, stop with :meth:`down`; ``url`` is its Gremlin endpoint."""

    def __init__(self, folder: Path, backend: str = "berkeleyje") -> None:
        cache = Path(os.environ.get("RDG_STACK_DIR") or Settings().stack_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        if (cache / "jars").exists():
            (folder / "jars").symlink_to(cache / "jars")  # reuse the jar cache, not its servers
        self.port = free_port()
        self.settings = Settings(stack_dir=str(folder), janusgraph_port=self.port, janusgraph_backend=backend)
        self.url = f"ws://127.0.0.1:{self.port}/gremlin"

    def up(self) -> None:
        """Start it (or again, with its data on berkeleyje) and wait until it answers."""
        from rdg.stack import up

        up(self.settings, only="janusgraph", timeout=180)

    def down(self) -> None:
        """Stop it."""
        from rdg.stack import down

        down(self.settings, only="janusgraph")
