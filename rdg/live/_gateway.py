"""The gateway: one NATS subscription in, a WebSocket fan-out to every connected device out.

A gateway reads the latest broadcast of every event, then each new one, through ONE ordered
JetStream consumer (:func:`rdg.bus.subscribe_latest`). It keeps the newest message per event
and pushes each new one to all its connections with a single serialisation
(``websockets.broadcast``). A device that connects (or reconnects after missing messages)
gets a ``snapshot`` of the latest state of every event at once.

Wire protocol (JSON text frames):

* gateway -> device: ``{"type": "snapshot", "events": [msg, ...]}`` on connect and on
  ``resync``; ``{"type": "state", **msg}`` for each broadcast; ``{"type": "pong"}``;
  ``{"type": "error", "error": "..."}`` for a bad frame.
* device -> gateway: ``{"op": "hello", "devices": n}`` (optional, n devices multiplexed on
  this connection), ``{"op": "ping"}``, ``{"op": "resync"}``.

A device that sends garbage gets an error frame; after ``max_garbage`` bad frames its
connection (only its own) is closed with code 1008. Frames over 4 KiB close it with 1009.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Iterable

import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from rdg.live._device import MAX_SEQ_STEP, Device, plausible_seq, valid_message
from rdg.live._store import LiveNames

log = logging.getLogger("rdg.live.gateway")

__all__ = ["Gateway", "GatewayStats", "DeviceLink"]


@dataclass
class GatewayStats:
    """Counters a gateway reports on ``GET /healthz``."""

    connections: int = 0
    devices: int = 0
    received: int = 0
    forwarded: int = 0
    stale: int = 0
    refused: int = 0
    """Broadcasts whose seq jumped implausibly far ahead (forged or corrupt), not forwarded."""
    garbage: int = 0
    closed_for_garbage: int = 0
    closed_slow: int = 0
    """Connections dropped because their unsent data passed ``max_buffered``."""
    refused_connections: int = 0
    """Connections answered 503 because ``max_connections`` were open."""
    fanout_ms_last: float = 0.0
    """How long the last broadcast took to write to every connection."""
    fanout_ms_max: float = 0.0
    started: float = field(default_factory=time.time)


class Gateway:
    """Serve devices over WebSocket from the broadcast stream.

    Args:
        nc: A connected NATS client.
        names: Which live deployment to follow.
        host: Interface to listen on.
        port: TCP port (0 picks a free one; see :attr:`port` after :meth:`start`).
        max_garbage: Bad frames a connection may send before it is closed.
        max_connections: Connections served at once; more are answered 503 (the device retries).
        max_buffered: Bytes a connection may have waiting to be sent; a device that reads slower
            than the broadcasts come is disconnected (it reconnects and gets a snapshot).
    """

    def __init__(self, nc: Any, names: LiveNames | None = None, *, host: str = "127.0.0.1", port: int = 8765,
                 max_garbage: int = 5, max_connections: int = 20_000, max_buffered: int = 1 << 20) -> None:
        self.nc = nc
        self.names = names or LiveNames()
        self.host = host
        self.port = port
        self.max_garbage = max_garbage
        self.max_connections = max_connections
        self.max_buffered = max_buffered
        self.latest: dict[str, dict[str, Any]] = {}
        self.conns: set[ServerConnection] = set()
        self.stats = GatewayStats()
        self._server: Any = None
        self._sub: Any = None

    async def start(self) -> "Gateway":
        """Subscribe to the broadcasts and start listening."""
        from rdg.bus import ensure_broadcast_stream, subscribe_latest

        js = self.nc.jetstream()
        await ensure_broadcast_stream(js, self.names.stream, [self.names.wildcard])
        self._sub = await subscribe_latest(js, self.names.wildcard, self.names.stream, self._on_broadcast)
        if not await self._sub.caught_up():  # serve no device an empty snapshot while catching up
            log.warning("gateway still catching up with %s after 10s; serving anyway", self.names.stream)
        self._server = await serve(self._handle, self.host, self.port, max_size=4096, ping_interval=20,
                                   ping_timeout=20, process_request=self._http, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("gateway on ws://%s:%d following %s", self.host, self.port, self.names.wildcard)
        return self

    @property
    def url(self) -> str:
        """``ws://host:port/`` devices connect to."""
        return f"ws://{self.host}:{self.port}/"

    async def close(self) -> None:
        """Stop listening and unsubscribe."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        await self._server.serve_forever()

    def _http(self, connection: ServerConnection, request: Any) -> Any:
        if len(self.conns) >= self.max_connections and not request.path.startswith("/healthz"):
            self.stats.refused_connections += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "gateway full: try another or retry later\n")
        if request.path.startswith("/healthz"):
            body = json.dumps({"ok": True, "events": len(self.latest), **self.stats.__dict__})
            response = connection.respond(HTTPStatus.OK, body + "\n")
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    async def _on_broadcast(self, subject: str, payload: dict[str, Any]) -> None:
        self.stats.received += 1
        if not valid_message(payload):
            log.warning("ignoring malformed broadcast on %s: %r", subject, payload)
            return
        known = self.latest.get(payload["event_id"])
        if known is not None and known["seq"] >= payload["seq"]:
            self.stats.stale += 1  # a redelivery or an old message: never send a device backwards
            return
        if not plausible_seq(payload["seq"], known["seq"] if known else None):
            self.stats.refused += 1  # forged or corrupt: adopting it would make every real message look stale
            log.warning("refusing broadcast on %s: seq %d is more than %d past %s", subject, payload["seq"],
                        MAX_SEQ_STEP, known["seq"] if known else "nothing seen")
            return
        self.latest[payload["event_id"]] = payload
        frame = json.dumps({"type": "state", **payload}, separators=(",", ":"))
        self._drop_slow()
        began = time.perf_counter()
        broadcast(self.conns, frame)
        took = (time.perf_counter() - began) * 1000
        self.stats.fanout_ms_last = took
        self.stats.fanout_ms_max = max(self.stats.fanout_ms_max, took)
        self.stats.forwarded += len(self.conns)

    def _drop_slow(self) -> None:
        """Disconnect every device whose unsent data is over ``max_buffered``: broadcasting has no
        backpressure, so a device that stopped reading would otherwise grow the gateway's memory."""
        for ws in list(self.conns):
            transport = ws.transport
            if transport is not None and transport.get_write_buffer_size() > self.max_buffered:
                self.conns.discard(ws)
                self.stats.closed_slow += 1
                transport.abort()

    def _snapshot(self) -> str:
        return json.dumps({"type": "snapshot", "events": list(self.latest.values())}, separators=(",", ":"))

    async def _handle(self, ws: ServerConnection) -> None:
        garbage = 0
        devices = 1
        self.conns.add(ws)
        self.stats.connections += 1
        self.stats.devices += devices
        try:
            await ws.send(self._snapshot())
            async for frame in ws:
                reply, bad = self._reply(frame)
                if bad:
                    garbage += 1
                    self.stats.garbage += 1
                    if garbage >= self.max_garbage:
                        self.stats.closed_for_garbage += 1
                        await ws.close(1008, "too many bad frames")
                        return
                elif isinstance(reply, int):
                    self.stats.devices += reply - devices
                    devices = reply
                    continue
                if reply is not None:
                    await ws.send(reply)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.conns.discard(ws)
            self.stats.connections -= 1
            self.stats.devices -= devices

    def _reply(self, frame: str | bytes) -> tuple[str | int | None, bool]:
        """Answer one device frame: (reply or device count, is it garbage)."""
        try:
            data = json.loads(frame)
        except (ValueError, UnicodeDecodeError):
            return _error("not JSON: send {\"op\": \"ping\"|\"resync\"|\"hello\"}"), True
        if not isinstance(data, dict):
            return _error("expected a JSON object with an 'op'"), True
        op = data.get("op")
        if op == "ping":
            return json.dumps({"type": "pong"}), False
        if op == "resync":
            return self._snapshot(), False
        if op == "hello":
            n = data.get("devices", 1)
            if not isinstance(n, int) or isinstance(n, bool) or not 0 < n <= 1_000_000:
                return _error("'devices' must be a whole number from 1 to 1000000"), True
            return n, False
        return _error(f"unknown op {op!r}: use ping, resync or hello"), True


def _error(text: str) -> str:
    return json.dumps({"type": "error", "error": text})


class DeviceLink:
    """One WebSocket connection to a gateway carrying one or many devices; reconnects by itself.

    Args:
        url: The gateway URL.
        devices: The devices on this connection (a real device has one; the simulator many).
        on_flip: Called as ``on_flip(device, msg, received_at)`` for every flip.
        on_error: Called with the text of each error frame from the gateway.
    """

    def __init__(self, url: str, devices: Iterable[Device], *,
                 on_flip: Callable[[Device, dict[str, Any], float], None] | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.devices = list(devices)
        self.on_flip = on_flip
        self.on_error = on_error
        self.connected = asyncio.Event()
        self.snapshots = 0
        self.frames = 0
        self.ws: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> "DeviceLink":
        """Connect (and keep reconnecting) in the background."""
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        """Disconnect and stop reconnecting (the devices keep what they saw)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.connected.clear()

    async def send(self, frame: str | bytes) -> None:
        """Send a raw frame (tests use this to send garbage)."""
        await self.ws.send(frame)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async with ws_connect(self.url, max_size=2**22, ping_interval=20, open_timeout=30,
                                      compression=None) as ws:
                    self.ws = ws
                    if len(self.devices) != 1:
                        await ws.send(json.dumps({"op": "hello", "devices": len(self.devices)}))
                    delay = 0.1
                    async for frame in ws:
                        self._on_frame(frame)
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.WebSocketException) as err:
                log.debug("link to %s dropped: %s; reconnecting in %.1fs", self.url, err, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _on_frame(self, frame: str | bytes) -> None:
        self.frames += 1
        data = json.loads(frame)
        kind = data.get("type")
        if kind == "state":
            self.dispatch(data)
        elif kind == "snapshot":
            self.snapshots += 1
            for msg in data["events"]:
                self.dispatch(msg)
            self.connected.set()
        elif kind == "error" and self.on_error is not None:
            self.on_error(data.get("error", ""))

    def dispatch(self, msg: dict[str, Any]) -> None:
        """Apply one message to every device on this link."""
        if not valid_message(msg):
            return
        on_flip = self.on_flip
        clock = time.time
        for device in self.devices:
            now = clock()  # per device: with many devices on one link, later ones really are later
            if device.apply(msg, now) and on_flip is not None:
                on_flip(device, msg, now)
