"""rdg: a real-time distributed graph, live-event broadcast and an event-driven workflow engine.

>>> import rdg
>>> rdg.__version__
'0.1.0'
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rdg")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"

__all__ = ["__version__"]
