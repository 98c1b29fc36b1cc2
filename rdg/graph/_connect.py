"""``connect``: one entry point for the embedded graph and JanusGraph Server.

>>> import tempfile, os
>>> with connect(os.path.join(tempfile.mkdtemp(), "g.sqlite")) as graph:
...     graph.backend
'embedded'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdg.errors import ConfigError
from rdg.graph._handle import Graph

if TYPE_CHECKING:  # pragma: no cover
    from rdg.config import Settings

__all__ = ["connect"]


def connect(url: str | None = None, *, settings: "Settings | None" = None, batch_size: int | None = None,
            **options: Any) -> Graph:
    """Open the graph at ``url`` (or ``settings.gremlin_url``).

    Args:
        url: ``embedded`` (the file ``settings.graph_path``), a file path (the embedded graph
            in that SQLite file), or ``ws://host:port/gremlin`` / ``wss://...`` (JanusGraph Server).
        settings: Supplies the URL when ``url`` is ``None``, and the state dir, credentials,
            CA file and pool size.
        batch_size: Elements per write request (default: the backend's tuned value).
        **options: Passed to the backend (JanusGraph: ``username``, ``password``, ``ca_file``,
            ``pool_size``, ``timeout_s``).

    Raises:
        ConfigError: No URL, or a URL scheme rdg does not know.
        ServerError: The server cannot be reached or the file cannot be opened.
    """
    if url is None and settings is None:
        from rdg.config import load_settings

        settings = load_settings()
    if url is None:
        url = settings.gremlin_url  # type: ignore[union-attr]
    if not url:
        raise ConfigError("no graph URL given", hint="set gremlin_url to 'embedded', a file path or ws://host:8182/gremlin")
    if url.startswith(("ws://", "wss://")):
        from rdg.graph._janus import JanusBackend

        if settings is not None:
            options.setdefault("username", settings.gremlin_username)
            options.setdefault("password", settings.gremlin_secret)
            options.setdefault("ca_file", settings.gremlin_ca_file)
            options.setdefault("pool_size", settings.gremlin_pool_size)
        return Graph(JanusBackend(url, **options), batch_size=batch_size)
    if "://" in url and not url.startswith("file://"):
        raise ConfigError(f"unknown graph URL {url!r}",
                          hint="use 'embedded', a file path, or ws://host:8182/gremlin")
    from rdg.graph.embedded.backend import EmbeddedBackend

    if url == "embedded":
        if settings is None:
            from rdg.config import load_settings

            settings = load_settings()
        path = settings.graph_path
    else:
        path = Path(url.removeprefix("file://")).expanduser()
    return Graph(EmbeddedBackend(path), batch_size=batch_size)
