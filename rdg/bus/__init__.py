"""NATS JetStream helpers shared by live events and the workflow engine.

``_admin``: connect, ensure streams and KV buckets. Data-plane helpers sit beside it.
"""

from rdg.bus._admin import connect, ensure_kv, ensure_stream

__all__ = ["connect", "ensure_kv", "ensure_stream"]
