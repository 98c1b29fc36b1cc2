"""Step runtimes that reach outside (http, pipeline) and run strategies, on the real NATS server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from rdg.workflow import RunStatus, StepStatus, get_run, list_runs, start_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.calls.append(body)
        status = 503 if body.get("fail") and len(_Handler.calls) < 3 else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"echo": body, "n": len(_Handler.calls)}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


async def test_http_step_posts_json_and_retries_5xx_as_platform_errors(wf, http_url: str) -> None:
    await wf.push(f"""
id: hook
params:
  day: {{type: string, default: mon}}
steps:
  - id: call
    type: http
    url: "{http_url}/hook"
    method: POST
    json: {{day: "${{{{ params.day }}}}", fail: true}}
    retry: {{platform: 3, backoff: 0.05}}
""")
    run = await (await start_run(wf.store, "hook", {"day": "tue"})).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    rec = await (await get_run(wf.store, run.id)).step("call")
    assert rec.outputs["status"] == 200 and rec.outputs["json"]["echo"] == {"day": "tue", "fail": True}
    assert rec.platform_retries == 2 and rec.user_retries == 0  # two 503s, then 200


async def test_pipeline_step_runs_an_rdg_pipeline_over_a_file(wf, tmp_path: Path) -> None:
    await wf.push(f"""
id: backfill
steps:
  - id: games
    type: pipeline
    pipeline: games
    spec: {ROOT / "pipelines.yaml"}
    events: {ROOT / "rdg" / "data" / "events" / "games.jsonl"}
    env: {{RDG_STATE_DIR: "{tmp_path}"}}
    timeout: 100
""")
    run = await (await start_run(wf.store, "backfill")).wait(timeout=110)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    out = (await (await get_run(wf.store, run.id)).step("games")).outputs
    assert out["pipeline"] == "games" and out["events_in"] > 0 and out["vertices"] > 0
    assert (tmp_path / "graph.sqlite").exists()  # the embedded graph the pipeline wrote


async def test_foreach_over_another_workflow(wf) -> None:
    await wf.push("""
id: square
params:
  x: {type: int}
steps:
  - {id: s, type: shell, command: 'echo $((RDG_P_X * RDG_P_X)) > "$RDG_OUTPUTS/sq.json"'}
""")
    await wf.push("""
id: squares
steps:
  - {id: each, type: foreach, over: "[1, 2, 3]", workflow: square, child_params: {x: "${{ item }}"}}
""")
    run = await (await start_run(wf.store, "squares")).wait(timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    squares = []
    for i in range(3):
        child = await get_run(wf.store, f"{run.id}.each.1-1.{i}")
        assert (await child.record()).workflow == "square"
        squares.append((await child.step("s")).outputs["sq"])
    assert squares == [1, 4, 9]


async def test_run_strategies(wf) -> None:
    await wf.push("id: first\nrun_strategy: first_only\nsteps: [{id: s, type: sleep, seconds: 30}]\n")
    await wf.push("id: last\nrun_strategy: last_only\nsteps: [{id: s, type: sleep, seconds: 30}]\n")
    await wf.push("id: two\nmax_parallel: 2\nsteps: [{id: s, type: sleep, seconds: 30}]\n")
    a = await start_run(wf.store, "first")
    b = await start_run(wf.store, "first")
    assert await a.status() is RunStatus.IN_PROGRESS
    dropped = await b.record()
    assert dropped.status is RunStatus.STOPPED and "first_only" in dropped.reason
    await a.stop()

    old = await start_run(wf.store, "last")
    await wf.step_status(old, "s", "RUNNING")
    new = await start_run(wf.store, "last")
    assert (await old.record()).status is RunStatus.STOPPED and "superseded" in (await old.record()).reason
    await wf.step_status(old, "s", "STOPPED")
    assert await new.status() is RunStatus.IN_PROGRESS
    await new.stop()

    runs = [await start_run(wf.store, "two") for _ in range(3)]
    assert [await r.status() for r in runs] == [RunStatus.IN_PROGRESS, RunStatus.IN_PROGRESS, RunStatus.CREATED]
    await runs[0].stop()
    await wf.step_status(runs[2], "s", "RUNNING")
    for r in runs[1:]:
        await r.stop()
    history = await list_runs(wf.store, "two")
    assert {h["status"] for h in history} == {"STOPPED"} and len(history) == 3
    await wf.step_status(runs[2], "s", StepStatus.STOPPED.value)
