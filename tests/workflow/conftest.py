"""Fixtures for workflow tests: a store under a unique prefix on the real NATS server, with an
engine and a worker running in this process (asyncio tasks). Everything is deleted afterwards."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import AsyncIterator

import pytest

from rdg.spec import WorkflowSpec, parse_workflow_text
from rdg.testing import async_wait_until
from rdg.workflow import Engine, RunHandle, Store, Worker


@dataclass
class Env:
    store: Store
    engine: Engine
    worker: Worker

    async def push(self, text: str) -> WorkflowSpec:
        spec = parse_workflow_text(text, "test.yaml")
        await self.store.push_definition(spec)
        return spec

    async def step_status(self, handle: RunHandle, step: str, want: str, timeout: float = 20.0) -> None:
        """Wait until a step reaches a status (polling the store; tests only)."""
        async def reached() -> bool:
            return (await handle.step(step)).status.value == want

        await async_wait_until(reached, timeout=timeout, every=0.02, what=f"step {step} to become {want}")


@pytest.fixture
async def wf(nats_url: str) -> AsyncIterator[Env]:
    store = await Store.open(nats_url, namespace=f"t{uuid.uuid4().hex[:10]}", lease=2.0)
    engine = Engine(store, reconcile_interval=1.0, cron_refresh=0.2)
    worker = Worker(store, concurrency=12)
    tasks = [asyncio.create_task(engine.run()), asyncio.create_task(worker.run())]
    try:
        yield Env(store, engine, worker)
    finally:
        engine.stop()
        worker.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.destroy()
        await store.close()
