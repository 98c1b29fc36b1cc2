"""NATS JetStream helpers shared by live events and the workflow engine.

``_admin``: connect, ensure streams and KV buckets; ``_names``: what they are called.
Data-plane helpers sit beside them.
"""

from rdg.bus._admin import connect, connect_with, ensure_kv, ensure_stream, nats_options
from rdg.bus._names import DEFAULT_NAMESPACE, Namespace
from rdg.bus._kv import kv_cas, kv_cas_final, kv_create, kv_get, kv_keys, kv_update_json, until_no_conflict
from rdg.bus._broadcast import (
    LatestSubscription,
    ensure_broadcast_stream,
    last_json,
    publish_json,
    subscribe_latest,
)

__all__ = ["connect", "connect_with", "ensure_kv", "ensure_stream", "nats_options"]
__all__ += ["LatestSubscription", "ensure_broadcast_stream", "last_json", "publish_json", "subscribe_latest"]
__all__ += ["DEFAULT_NAMESPACE", "Namespace"]
__all__ += ["kv_cas", "kv_cas_final", "kv_create", "kv_get", "kv_keys", "kv_update_json", "until_no_conflict"]
