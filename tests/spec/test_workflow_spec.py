"""Workflow definitions: validation with file:line:col lints, and the safe expression evaluator."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdg.errors import SpecError
from rdg.spec import (
    ExpressionError, FailureMode, LintKind, RetrySpec, RunStrategy, StepType, evaluate, load_workflow,
    parse_workflow_text, render,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "workflows"


def _lints(text: str) -> list:
    with pytest.raises(SpecError) as err:
        parse_workflow_text(text, "wf.yaml")
    return err.value.lints


def test_a_full_definition_parses_into_models() -> None:
    wf = parse_workflow_text("""
id: etl
description: nightly load
params:
  day: {type: string, default: "2024-01-01"}
  ids: {type: list, required: true}
timeout: 1h45m
run_strategy: sequential
triggers: {cron: ["0 2 * * *"], signals: [data_ready]}
steps:
  - id: extract
    type: shell
    command: ./extract.sh
    retry: {user: 2, platform: 3, backoff: 500ms, factor: 3}
    timeout: 5m
  - id: each
    type: foreach
    depends_on: [extract]
    over: "params.ids"
    concurrency: 4
    child_params: {id: "${{ item }}"}
    steps:
      - {id: load, type: python, callable: "flows.load:run", params: {id: "${{ params.id }}"}}
  - {id: report, type: subworkflow, workflow: report, depends_on: [each], on_failure: ignore, wait: false}
""", "etl.yaml")
    assert wf.timeout == 6300 and wf.run_strategy is RunStrategy.SEQUENTIAL  # one grammar: 1h45m works here too
    assert wf.triggers.cron == ("0 2 * * *",) and wf.triggers.signals == ("data_ready",)
    extract = wf.step("extract")
    assert extract.retry == RetrySpec(user=2, platform=3, backoff=0.5, factor=3.0)
    assert extract.timeout == 300
    each = wf.step("each")
    assert each.type is StepType.FOREACH and each.child is not None and each.child.step("load").line > 0
    assert wf.step("report").on_failure is FailureMode.IGNORE
    assert wf.downstream("extract") == {"each", "report"}
    assert wf.resolve_params({"ids": [1]}) == {"day": "2024-01-01", "ids": [1]}
    with pytest.raises(ValueError, match="needs parameter 'ids'"):
        wf.resolve_params({})
    with pytest.raises(ValueError, match="must be list"):
        wf.resolve_params({"ids": "x"})
    with pytest.raises(ValueError, match="no parameter 'dya'.*did you mean 'day'"):
        wf.resolve_params({"ids": [], "dya": 1})


def test_cyclic_dag_is_refused_with_the_cycle() -> None:
    [lint] = _lints("""
id: cyc
steps:
  - {id: a, type: noop, depends_on: [c]}
  - {id: b, type: noop, depends_on: [a]}
  - {id: c, type: noop, depends_on: [b]}
""")
    assert lint.kind is LintKind.BAD_REFERENCE
    assert "cycle: a -> c -> b -> a" in lint.message and lint.line == 4


def test_unknown_step_and_parameter_references() -> None:
    lints = _lints("""
id: refs
params:
  day: {type: string, default: x}
steps:
  - {id: extract, type: noop}
  - {id: load, type: noop, depends_on: [extrct]}
  - {id: use, type: shell, command: "true", depends_on: [extract], params: {d: "${{ params.dya }}"}}
  - {id: out, type: noop, depends_on: [extract], if: "steps.lod.n > 1"}
  - {id: early, type: noop, if: "steps.extract.n > 1"}
""")
    text = [str(l) for l in lints]
    assert any("wf.yaml:7:" in t and "unknown step 'extrct'" in t and "did you mean 'extract'" in t for t in text)
    assert any("unknown parameter 'dya'" in t and "did you mean 'day'" in t for t in text)
    assert any("unknown step 'lod'" in t for t in text)
    assert any("reads step 'extract', which does not run before it" in t for t in text)


@pytest.mark.parametrize("expr", [
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('id')",
    "params.__class__",
    "open('/etc/passwd')",
    "eval('1')",
    "[x for x in range(10)].__len__()",
    "lambda: 1",
    "params.day.upper()",
    "x" * 600,
])
def test_expressions_that_try_to_escape_are_refused(expr: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expr, {"params": {"day": "mon"}})
    lints = _lints(f"id: esc\nsteps:\n  - id: a\n    type: noop\n    if: {expr!r}\n")
    assert lints and lints[0].line == 5


def test_expression_limits_and_errors() -> None:
    with pytest.raises(ExpressionError, match="larger than the limit"):
        evaluate("range(10**9)", {})
    with pytest.raises(ExpressionError):
        evaluate("'x' * 10**7", {})
    with pytest.raises(ExpressionError, match="no value for"):
        evaluate("params.missing", {"params": {}})
    assert evaluate("[i * 2 for i in range(3)]", {}) == [0, 2, 4]
    assert render({"a": ["${{ params.n + 1 }}", "n=${{ params.n }}"]}, {"params": {"n": 1}}) == {"a": [2, "n=1"]}


def test_every_field_problem_is_a_lint_with_a_fix() -> None:
    lints = _lints("""
id: bad one
params:
  n: {type: integer}
  m: {type: int, default: "three"}
run_strategy: paralel
triggers: {cron: ["every day"], signals: ["no spaces"]}
steps:
  - {id: a, type: noop, retyr: 2}
  - {id: b, type: shel, command: x}
  - {id: c, type: python, callable: "not a path"}
  - {id: d, type: foreach, over: "range(3)"}
  - {id: e, type: sleep}
  - {id: f, type: noop, timeout: soon, on_failure: maybe}
  - {id: a, type: noop}
""")
    text = "\n".join(str(l) for l in lints)
    for needle in ("needs an id", "unknown parameter type 'integer'", "default: parameter 'm' must be int",
                   "unknown run_strategy 'paralel'", "did you mean 'parallel'", "'every day' is not a cron",
                   "signal name 'no spaces'", "unknown key 'retyr' in a noop step", "did you mean 'retry'",
                   "did you mean 'shell'", "must look like 'package.module:function'",
                   "needs exactly one of 'workflow:'", "needs 'seconds:'", "'soon' is not a duration",
                   "unknown on_failure 'maybe'", "step id 'a' is used twice"):
        assert needle in text, needle
    assert all(l.file == "wf.yaml" and l.line > 1 for l in lints)


def test_yaml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nsteps:\n  - {id: a, type: noop\n")
    with pytest.raises(SpecError) as err:
        load_workflow(path)
    assert str(err.value).startswith(f"{path}:4:")


def test_the_example_workflows_are_valid() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert files
    for path in files:
        assert load_workflow(path).steps


def test_templates_in_command_text_cwd_or_arguments_are_refused() -> None:
    """Issue 10 finding 1: `${{ }}` spliced into a command would run whatever a parameter holds."""
    lints = _lints("""
id: inj
params:
  name: {type: string}
steps:
  - {id: a, type: shell, command: 'echo "hello ${{ params.name }}"'}
  - {id: b, type: shell, command: [ls, "${{ params.name }}"]}
  - {id: c, type: shell, command: ls, cwd: "/srv/${{ params.name }}"}
  - {id: d, type: pipeline, pipeline: p, spec: s.yaml, events: e.jsonl, args: ["${{ params.name }}"]}
  - {id: ok, type: shell, command: 'echo "hello $RDG_P_NAME"', params: {name: "${{ params.name }}"}, env: {X: "${{ params.name }}"}}
""")
    where = [(lint.line, lint.message.split(":")[0]) for lint in lints]
    assert where == [(6, "'command"), (7, "'command"), (8, "'cwd"), (9, "'args")]
    assert all(lint.kind is LintKind.BAD_VALUE and "RDG_P_" in (lint.hint or "") for lint in lints)


@pytest.mark.parametrize("expr, names", [
    ("params.n ** params.n > 0", {"params": {"n": 3_000_000}}),
    ("4000000 ** 4000000", {}),
    ("2 ** 4000 * 2 ** 4000", {}),
    ("['a' * 100000 for x in range(10000)]", {}),
    ("[x * x for x in range(10000) for y in range(10000)]", {}),
    ("'%0999999999d' % 1", {}),
    ("f'{params.n:0999999999}'", {"params": {"n": 1}}),
])
def test_expression_bombs_are_refused_at_once(expr: str, names: dict) -> None:
    """Issue 10 finding 3: each of these ran for seconds or filled memory before."""
    with pytest.raises(ExpressionError) as err:
        evaluate(expr, names)
    assert str(err.value).startswith(f"expression {expr!r}") or "not supported" in str(err.value)


async def test_a_heavy_expression_leaves_the_event_loop_free() -> None:
    """A large but allowed expression moves to a thread: the loop keeps running meanwhile."""
    import asyncio

    from rdg.spec import evaluate_async

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    before = ticks
    assert await evaluate_async("sum([x * x + x for x in range(9999)])", {}) == sum(x * x + x for x in range(9999))
    during = ticks - before
    ticker.cancel()
    assert during > 3  # inline, the loop would not have turned at all
    assert await evaluate_async("params.n + 1", {"params": {"n": 1}}) == 2  # small ones stay inline


def test_pipeline_and_workflow_specs_word_the_same_mistake_the_same_way() -> None:
    from rdg.spec import lint_pipelines_text

    _, pipeline_lints = lint_pipelines_text("graph: {}\nsourcs: {}\n", "p.yaml")
    workflow_lints = _lints("id: w\nstepz: []\nsteps:\n  - {id: a, type: noop}\n")
    said = [str(l) for l in pipeline_lints + workflow_lints if l.kind.value == "unknown"]
    assert said == ["p.yaml:2:1: unknown key 'sourcs' in the top level (did you mean 'sources'?)",
                    "wf.yaml:2:1: unknown key 'stepz' in the workflow (did you mean 'steps'?)"]
