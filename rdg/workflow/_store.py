"""Workflow state on NATS JetStream: definitions and runs in KV, events and work as streams.

The store is the single source of truth. Every change to a run or a step is a compare-and-set
on the key's revision (:func:`rdg.bus.kv_cas`), so a stale engine, client or worker can never
overwrite newer state: it gets :class:`rdg.errors.ConflictError`, reads again and decides again.

Names, for a namespace ``N`` (default ``main``; the scheme is :class:`rdg.bus.Namespace`'s)::

    KV      rdg_N_wf_defs     wf.<id> (latest), wfv.<id>.<version>, sig.<signal>, cron.<id>
    KV      rdg_N_wf_runs     run.<run>, step.<run>.<step>, active.<wf>, index.<wf>,
                              fi.<run>.<step>.<runattempt-attempt>.<page> (a foreach's items, pages of a list),
                              fd.<run>.<step>.<runattempt-attempt>.<page> (which of its children are done)
    stream  rdg_N_wf_events   rdg.N.wf.events     step outcomes and actions -> engines (work queue)
    stream  rdg_N_wf_tasks    rdg.N.wf.tasks      ready steps -> workers (work queue)
    stream  rdg_N_wf_signals  rdg.N.wf.signals.*  named signals -> engines (work queue)
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, RetentionPolicy, StorageType
from nats.js.errors import NotFoundError as JsNotFoundError
from nats.js.kv import KeyValue

from rdg.bus import DEFAULT_NAMESPACE, Namespace, connect, ensure_kv, ensure_stream, kv_cas, kv_get, kv_keys, kv_update_json
from rdg.errors import ConfigError, ConflictError, NotFoundError
from rdg.spec import WorkflowSpec, parse_workflow_data
from rdg.workflow._events import Event, to_wire
from rdg.workflow._models import RunRecord, StepRecord

__all__ = ["Store", "StoreNames"]

T = TypeVar("T")
SPECS_KEPT = 256
"""Parsed workflow definitions a store keeps in memory (each version counts once)."""


@dataclass(frozen=True)
class StoreNames:
    """The workflow engine's buckets, streams and subjects in one namespace (:class:`rdg.bus.Namespace`).

    >>> StoreNames("t1").runs, StoreNames("t1").tasks
    ('rdg_t1_wf_runs', 'rdg.t1.wf.tasks')
    """

    namespace: str = DEFAULT_NAMESPACE

    @cached_property
    def _ns(self) -> Namespace:
        return Namespace(self.namespace)

    def __post_init__(self) -> None:
        _ = self._ns  # refuses a bad name, once (names are read on every dispatch and event)

    @property
    def defs(self) -> str:
        return self._ns.bucket("wf", "defs")

    @property
    def runs(self) -> str:
        return self._ns.bucket("wf", "runs")

    @property
    def events_stream(self) -> str:
        return self._ns.stream("wf", "events")

    @property
    def events(self) -> str:
        return self._ns.subject("wf", "events")

    @property
    def tasks_stream(self) -> str:
        return self._ns.stream("wf", "tasks")

    @property
    def tasks(self) -> str:
        return self._ns.subject("wf", "tasks")

    @property
    def signals_stream(self) -> str:
        return self._ns.stream("wf", "signals")

    def signal(self, name: str) -> str:
        return self._ns.subject("wf", "signals", name)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


class Store:
    """Typed access to workflow state. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, nc: Client, js: JetStreamContext, names: StoreNames, defs: KeyValue, runs: KeyValue,
                 *, own_connection: bool, lease: float) -> None:
        self.nc = nc
        self.js = js
        self.names = names
        self.defs = defs
        self.runs = runs
        self.lease = lease
        self._own = own_connection
        self._specs: OrderedDict[tuple[str, int], WorkflowSpec] = OrderedDict()
        """Parsed definitions, the most recently used :data:`SPECS_KEPT`."""

    @classmethod
    async def open(cls, url_or_client: str | Client, *, namespace: str = DEFAULT_NAMESPACE, lease: float = 30.0,
                   name: str = "rdg-workflow") -> "Store":
        """Connect (or reuse a client) and make sure the buckets and streams exist.

        Args:
            url_or_client: ``nats://host:port`` or a connected client.
            namespace: Keeps deployments apart: every bucket and stream is named after it (tests
                use a unique one).
            lease: Seconds a worker holds a step without a heartbeat (the work queue's ack wait).
            name: Client name shown by the server.

        Raises:
            ServerError: NATS cannot be reached.
        """
        names = StoreNames(namespace)
        own = isinstance(url_or_client, str)
        nc = await connect(url_or_client, name=name) if isinstance(url_or_client, str) else url_or_client
        js = nc.jetstream()
        defs = await ensure_kv(js, names.defs, history=1, storage=StorageType.FILE)
        runs = await ensure_kv(js, names.runs, history=1, storage=StorageType.FILE)
        await ensure_stream(js, names.events_stream, [names.events], retention=RetentionPolicy.WORK_QUEUE)
        await ensure_stream(js, names.tasks_stream, [names.tasks], retention=RetentionPolicy.WORK_QUEUE)
        await ensure_stream(js, names.signals_stream, [names.signal(">")], retention=RetentionPolicy.WORK_QUEUE)
        return cls(nc, js, names, defs, runs, own_connection=own, lease=lease)

    async def close(self) -> None:
        """Close the connection if this store opened it."""
        if self._own and not self.nc.is_closed:
            await self.nc.close()  # not drain(): pending pull requests would hold it for the drain timeout

    async def destroy(self) -> None:
        """Delete every bucket and stream in this namespace (tests and benchmarks clean up with it)."""
        for bucket in (self.names.defs, self.names.runs):
            try:
                await self.js.delete_key_value(bucket)
            except JsNotFoundError:
                pass
        for stream in (self.names.events_stream, self.names.tasks_stream, self.names.signals_stream):
            try:
                await self.js.delete_stream(stream)
            except JsNotFoundError:
                pass

    # -- consumers ---------------------------------------------------------------------------

    async def pull(self, kind: str, durable: str) -> Any:
        """A durable pull subscription on ``events``, ``tasks`` or ``signals`` (shared by all peers)."""
        stream, subject = {
            "events": (self.names.events_stream, self.names.events),
            "tasks": (self.names.tasks_stream, self.names.tasks),
            "signals": (self.names.signals_stream, self.names.signal(">")),
        }[kind]
        config = ConsumerConfig(ack_wait=self.lease if kind == "tasks" else 30.0, max_deliver=-1,
                                max_ack_pending=-1)
        return await self.js.pull_subscribe(subject, durable=durable, stream=stream, config=config)

    async def push(self, kind: str, durable: str, callback: Any) -> Any:
        """A durable push subscription (queue group ``durable``): each message reaches ``callback`` at once."""
        stream, subject = {
            "events": (self.names.events_stream, self.names.events),
            "signals": (self.names.signals_stream, self.names.signal(">")),
        }[kind]
        config = ConsumerConfig(ack_wait=30.0, max_deliver=-1, max_ack_pending=20000)
        return await self.js.subscribe(subject, queue=durable, durable=durable, stream=stream, cb=callback,
                                       manual_ack=True, config=config, pending_msgs_limit=-1)

    # -- definitions -------------------------------------------------------------------------

    async def push_definition(self, spec: WorkflowSpec) -> int:
        """Store a new version of a definition and index its signal triggers; returns the version."""
        while True:
            raw, rev = await kv_get(self.defs, f"wf.{spec.id}")
            version = (json.loads(raw)["version"] + 1) if raw else 1
            doc = {"id": spec.id, "version": version, "source": spec.source, "file": spec.file}
            await self.defs.put(f"wfv.{spec.id}.{version}", _dumps(doc))
            try:
                await kv_cas(self.defs, f"wf.{spec.id}", _dumps(doc), rev)
                break
            except ConflictError:
                continue
        for signal in spec.triggers.signals:
            await self._index_add(self.defs, f"sig.{signal}", spec.id)
        return version

    async def get_definition(self, wf_id: str, version: int | None = None) -> tuple[WorkflowSpec, int]:
        """A definition (latest, or a given version), parsed once and cached.

        Raises:
            NotFoundError: No such workflow or version.
        """
        if version is not None and (wf_id, version) in self._specs:
            self._specs.move_to_end((wf_id, version))
            return self._specs[(wf_id, version)], version
        key = f"wf.{wf_id}" if version is None else f"wfv.{wf_id}.{version}"
        raw, _ = await kv_get(self.defs, key)
        if raw is None:
            what = f"workflow '{wf_id}'" + (f" version {version}" if version else "")
            raise NotFoundError(f"no {what}", hint="push it first: rdg workflow push FILE")
        doc = json.loads(raw)
        ver = int(doc["version"])
        if (wf_id, ver) not in self._specs:
            self._specs[(wf_id, ver)] = parse_workflow_data(doc["source"], doc.get("file", "<stored>"))
            while len(self._specs) > SPECS_KEPT:
                self._specs.popitem(last=False)
        self._specs.move_to_end((wf_id, ver))
        return self._specs[(wf_id, ver)], ver

    async def list_definitions(self) -> list[dict[str, Any]]:
        """``{id, version, description, steps, triggers}`` for every stored workflow."""
        out = []
        for key in await kv_keys(self.js, self.names.defs, "wf.*"):
            spec, version = await self.get_definition(key[3:])
            out.append({"id": spec.id, "version": version, "description": spec.description,
                        "steps": len(spec.steps), "cron": list(spec.triggers.cron),
                        "signals": list(spec.triggers.signals)})
        return sorted(out, key=lambda d: d["id"])

    async def workflows_for_signal(self, name: str) -> list[str]:
        """Ids of the workflows whose triggers list signal ``name``."""
        raw, _ = await kv_get(self.defs, f"sig.{name}")
        return json.loads(raw) if raw else []

    # -- runs and steps ----------------------------------------------------------------------

    async def get_run(self, run_id: str) -> tuple[RunRecord, int]:
        """The run record and its revision.

        Raises:
            NotFoundError: No run with this id.
        """
        raw, rev = await kv_get(self.runs, f"run.{run_id}")
        if raw is None:
            raise NotFoundError(f"no run '{run_id}'", hint="`rdg workflow history WORKFLOW` lists runs")
        return RunRecord.from_json(raw), rev

    async def cas_run(self, run: RunRecord, rev: int) -> int:
        """Write the run if still at ``rev`` (0: create); :class:`ConflictError` otherwise."""
        return await kv_cas(self.runs, f"run.{run.id}", run.to_json(), rev)

    async def get_step(self, run_id: str, step_id: str) -> tuple[StepRecord, int]:
        """The step record and revision; a fresh NOT_CREATED record with revision 0 if absent."""
        raw, rev = await kv_get(self.runs, f"step.{run_id}.{step_id}")
        return (StepRecord.from_json(raw) if raw else StepRecord()), rev

    async def cas_step(self, run_id: str, step_id: str, rec: StepRecord, rev: int) -> int:
        """Write the step if still at ``rev`` (0: create); :class:`ConflictError` otherwise."""
        return await kv_cas(self.runs, f"step.{run_id}.{step_id}", rec.to_json(), rev)

    async def cron_last(self, wf_id: str) -> tuple[float | None, int]:
        """When the workflow's cron last fired (``None, 0`` before its first pass) and the revision."""
        raw, rev = await kv_get(self.defs, f"cron.{wf_id}")
        return (float(json.loads(raw)["last"]) if raw else None), rev

    async def set_cron_last(self, wf_id: str, last: float, rev: int) -> int:
        """Record a cron firing by compare-and-set (:class:`ConflictError`: another engine did)."""
        return await kv_cas(self.defs, f"cron.{wf_id}", _dumps({"last": last}), rev)

    async def get_json(self, key: str) -> tuple[Any, int]:
        """Any JSON value in the runs bucket with its revision (``None, 0`` if absent)."""
        raw, rev = await kv_get(self.runs, key)
        return (json.loads(raw) if raw else None), rev

    async def cas_json(self, key: str, value: Any, rev: int) -> int:
        """Compare-and-set a JSON value in the runs bucket."""
        return await kv_cas(self.runs, key, _dumps(value), rev)

    async def put_items(self, key: str, items: list[Any]) -> None:
        """Write one page of a foreach step's items (``fi.*``: written once, never changed)."""
        await self.runs.put(key, _dumps(items))

    async def get_items(self, key: str) -> list[Any]:
        """One page of a foreach step's items (``[]`` if absent)."""
        items, _ = await self.get_json(key)
        return items or []

    async def index_run(self, workflow: str, run_id: str, *, keep: int = 200) -> None:
        """Remember a top-level run in the workflow's recent-runs list (newest last)."""
        await self._index_add(self.runs, f"index.{workflow}", run_id, keep=keep)

    async def recent_runs(self, workflow: str) -> list[str]:
        """Ids of the workflow's most recent top-level runs, newest last."""
        raw, _ = await kv_get(self.runs, f"index.{workflow}")
        return json.loads(raw) if raw else []

    async def update_json(self, key: str, change: Callable[[Any], tuple[Any, T]]) -> T:
        """Change a JSON value in the runs bucket by compare-and-set (:func:`rdg.bus.kv_update_json`:
        ``change`` is pure and called again on a lost race)."""
        return await kv_update_json(self.runs, key, change)

    async def _index_add(self, kv: KeyValue, key: str, item: str, *, keep: int = 0) -> None:
        def add(items: list[str] | None) -> tuple[list[str], None]:
            items = list(items or [])
            if item not in items:
                items.append(item)
            return (items[-keep:] if keep else items), None

        await kv_update_json(kv, key, add)

    # -- messages ----------------------------------------------------------------------------

    async def emit(self, event: Event) -> None:
        """Publish an event for the engines (a run started, a step ended, an action, a child ended).

        Sent without waiting for the stream's acknowledgement: the state change it announces is
        already in KV, so a lost event only delays that run until the engine's reconciliation
        pass reads the state again. Waiting would add a round trip to every step.
        """
        await self.nc.publish(self.names.events, _dumps(to_wire(event)))

    async def dispatch(self, task: dict[str, Any]) -> None:
        """Publish a ready step onto the work queue (unconfirmed, like :meth:`emit`: the step is
        QUEUED in KV, and an engine re-sends a dispatch that may not have arrived when it takes the
        run up, or when the repair pass finds it stale). The ``Nats-Msg-Id`` names the dispatch,
        so the stream keeps one copy of each however often it is sent."""
        msg_id = f"{task['run']}.{task['step']}.{task['dispatch']}"
        await self.nc.publish(self.names.tasks, _dumps(task), headers={"Nats-Msg-Id": msg_id})

    async def publish_signal(self, name: str, params: dict[str, Any]) -> None:
        """Publish a named signal; engines start every workflow that waits for it."""
        if not re.match(r"^[A-Za-z0-9_-]+$", name):
            raise ConfigError(f"signal name {name!r} may hold only letters, digits, _ and -")
        await self.js.publish(self.names.signal(name), _dumps({"name": name, "params": params}))
