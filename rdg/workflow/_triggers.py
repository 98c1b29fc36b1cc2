"""What starts runs without a client: named signals and cron schedules. Mixed into
:class:`rdg.workflow.Engine`; several engines may run these loops at once (a signal's run id and
the cron record's compare-and-set let only one start each run).
"""

from __future__ import annotations

import asyncio
import json
import logging

from rdg.errors import ConflictError, RdgError
from rdg.workflow._run_state import EnginePart

__all__ = ["Triggers"]

log = logging.getLogger("rdg.workflow.engine")


class Triggers(EnginePart):
    """The signal and cron loops (a mixin of :class:`rdg.workflow.Engine`)."""

    async def _signals_loop(self) -> None:
        from rdg.workflow._client import start_run

        sub = await self.store.pull("signals", "engine-signals")
        while not self._stop.is_set():
            try:
                msgs = await sub.fetch(16, timeout=1.0)
            except asyncio.TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("engine: fetching signals failed (%s)", err)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                data = json.loads(msg.data)
                seq = msg.metadata.sequence.stream
                for wf_id in await self.store.workflows_for_signal(data["name"]):
                    try:
                        spec, _ = await self.store.get_definition(wf_id)
                        params = {k: v for k, v in (data.get("params") or {}).items() if k in spec.params}
                        await start_run(self.store, wf_id, params, run_id=f"sig-{seq}-{wf_id}",
                                        trigger=f"signal:{data['name']}")
                    except ConflictError:
                        pass  # redelivered signal: that run exists already
                    except RdgError as err:
                        log.warning("engine: signal %s could not start %s: %s", data["name"], wf_id, err)
                await msg.ack()

    async def _cron_loop(self) -> None:
        from croniter import croniter

        from rdg.workflow._client import start_run

        while not self._stop.is_set():
            wake = self.clock() + self.cron_refresh
            try:
                for d in await self.store.list_definitions():
                    if not d["cron"]:
                        continue
                    last, rev = await self.store.cron_last(d["id"])
                    if last is None:
                        await self.store.set_cron_last(d["id"], self.clock(), 0)
                        continue
                    due = min(croniter(expr, last).get_next(float) for expr in d["cron"])
                    if due <= self.clock():
                        try:
                            await self.store.set_cron_last(d["id"], due, rev)
                        except ConflictError:
                            continue  # another engine fired it
                        await start_run(self.store, d["id"], {}, run_id=f"cron-{d['id']}-{int(due * 1000)}",
                                        trigger="cron")
                        wake = self.clock()
                    else:
                        wake = min(wake, due)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("engine: cron pass failed: %s", err)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, wake - self.clock()))
            except asyncio.TimeoutError:
                pass

