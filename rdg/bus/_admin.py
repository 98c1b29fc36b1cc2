"""Admin plane of the bus: connect to NATS, ensure streams and KV buckets exist (idempotent).

Every rdg process connects with :func:`connect_with` (settings: credentials, TLS, a bounded
first connection); :func:`connect` is the same for callers that hold the options themselves.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.errors import AuthorizationError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from rdg.errors import ConfigError, ServerError
from rdg.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    from rdg.config import Settings

log = logging.getLogger("rdg.bus")

__all__ = ["connect", "connect_with", "ensure_kv", "ensure_stream", "nats_options"]


def nats_options(settings: "Settings") -> dict[str, Any]:
    """Client options from settings: user/password, token, nkey seed or creds file, and TLS.

    >>> from rdg.config import Settings
    >>> sorted(nats_options(Settings(nats_user="app", nats_password="pw")))
    ['password', 'user']

    Raises:
        ConfigError: A named file does not exist, or a TLS file cannot be loaded.
    """
    opts: dict[str, Any] = {}
    if settings.nats_user:
        opts["user"], opts["password"] = settings.nats_user, settings.nats_password
    if settings.nats_token:
        opts["token"] = settings.nats_token
    for key, option in (("nats_creds_file", "user_credentials"), ("nats_nkey_seed_file", "nkeys_seed")):
        path = getattr(settings, key)
        if path:
            if not Path(path).is_file():
                raise ConfigError(f"{key}: no file at {path}", hint=f"point {key} at an existing file")
            opts[option] = str(path)
    ca, cert, key = settings.nats_tls_ca_file, settings.nats_tls_cert_file, settings.nats_tls_key_file
    if ca or cert:
        try:
            context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
            if cert:
                context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"cannot load the NATS TLS files ({ca or ''} {cert or ''}): {err}",
                              hint="check nats_tls_ca_file, nats_tls_cert_file and nats_tls_key_file") from err
        opts["tls"] = context
    return opts


async def connect_with(settings: "Settings", *, name: str = "rdg") -> Client:
    """Connect to ``settings.nats_url`` with the settings' credentials and TLS (see :func:`connect`)."""
    return await connect(settings.nats_url, name=name, connect_timeout=settings.nats_connect_timeout,
                         **nats_options(settings))


async def connect(url: str, *, name: str = "rdg", user: str | None = None, password: str | None = None,
                  connect_timeout: float = 10.0, **options: Any) -> Client:
    """Connect to NATS, reconnecting for ever with backoff when the server drops out later.

    The first connection is bounded: refused credentials fail at once, an unreachable server
    after ``connect_timeout`` seconds, each with one clear error.

    Args:
        url: ``nats://host:port``.
        name: Client name shown in the server's connection list.
        user: Optional user name.
        password: Optional password.
        connect_timeout: Seconds to wait for the first connection.
        options: More ``nats.connect`` options (``token``, ``tls``, ``user_credentials``...).

    Raises:
        ServerError: The first connection could not be made (unreachable, or credentials refused).
    """
    where = redact(url)
    hint = "start it with `rdg stack up`, or set RDG_NATS_URL"

    client: list[Client] = []  # filled once connected; callbacks read it

    async def _disconnected() -> None:
        if not client or client[0].is_closed:  # not connected yet, or closed on purpose: nothing to report
            return
        log.warning("NATS connection to %s lost; reconnecting", where)

    async def _reconnected() -> None:
        log.warning("NATS connection to %s restored", where)

    last_error: list[BaseException] = []
    fatal: list[str] = []  # a refused login or certificate: trying again cannot help
    refused = asyncio.Event()

    async def _error(err: Exception) -> None:
        last_error[:] = [err]
        if not client and not refused.is_set():
            if isinstance(err, AuthorizationError) or "authorization" in str(err).lower():
                fatal[:] = ["NATS refused the credentials (authorization violation)",
                            "check nats_user/nats_password, nats_token, nats_creds_file or nats_nkey_seed_file"]
                refused.set()
            elif isinstance(err, ssl.SSLError):
                fatal[:] = [f"TLS with NATS failed: {err}",
                            "set nats_tls_ca_file to the CA that signed the server's certificate "
                            "(and nats_tls_cert_file/nats_tls_key_file if it verifies clients)"]
                refused.set()
        log.debug("NATS error: %s", redact(str(err)))

    nc = Client()
    attempt = asyncio.ensure_future(nc.connect(
        url, name=name, user=user, password=password, connect_timeout=min(connect_timeout, 5.0),
        max_reconnect_attempts=-1, reconnect_time_wait=0.5, allow_reconnect=True,
        disconnected_cb=_disconnected, reconnected_cb=_reconnected, error_cb=_error, **options,
    ))
    gave_up = asyncio.ensure_future(refused.wait())
    try:
        await asyncio.wait({attempt, gave_up}, timeout=connect_timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gave_up.cancel()
    if not attempt.done() or attempt.cancelled() or attempt.exception() is not None:
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
        await nc.close()
        if fatal:
            raise ServerError(f"cannot connect to NATS at {where}: {redact(fatal[0])}", hint=fatal[1])
        err = attempt.exception() if attempt.done() and not attempt.cancelled() else None
        why = redact(str(err or (last_error[0] if last_error else "no answer")))
        raise ServerError(f"cannot connect to NATS at {where} within {connect_timeout:g} s: {why}", hint=hint)
    client.append(nc)
    return nc


async def ensure_stream(js: JetStreamContext, name: str, subjects: list[str], **config: Any) -> None:
    """Create the stream if missing, or update its config if it differs; safe to call often."""
    wanted = StreamConfig(name=name, subjects=subjects, **config)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(wanted)
        return
    await js.update_stream(wanted)


async def ensure_kv(js: JetStreamContext, bucket: str, **config: Any) -> KeyValue:
    """Return the KV bucket, creating it first if it does not exist."""
    try:
        return await js.key_value(bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(KeyValueConfig(bucket=bucket, **config))
