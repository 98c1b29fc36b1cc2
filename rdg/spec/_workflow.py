"""Workflow definitions: YAML -> frozen, validated models (every problem as a file:line:col lint).

Longer than most modules: the workflow models and the checks of each field, in one pass over one document.

A workflow is an id, typed parameters, triggers and a DAG of steps. This module is the
authoring format only; the engine in ``rdg.workflow`` sees nothing but these models.

>>> wf = parse_workflow_text('''
... id: hello
... params:
...   name: {type: string, default: world}
... steps:
...   - id: greet
...     type: shell
...     command: echo "hello $RDG_P_NAME"
...     params: {name: "${{ params.name }}"}
...   - id: done
...     type: noop
...     depends_on: [greet]
... ''', "hello.yaml")
>>> [s.id for s in wf.steps], wf.step("done").depends_on
(['greet', 'done'], ('greet',))
>>> parse_workflow_text('id: x\\nsteps:\\n  - {id: a, type: shell, command: "echo ${{ run.id }}"}', "x.yaml")
Traceback (most recent call last):
...
rdg.errors.SpecError: x.yaml:3:35: 'command:' of step 'a' may not hold ${{ }} templates: a value spliced into a command can run anything (pass it as a step parameter and read $RDG_P_<NAME> in the command, e.g. params: {name: "${{ params.name }}"} and "$RDG_P_NAME")
>>> parse_workflow_text("id: x\\nsteps:\\n  - {id: a, type: noop, depends_on: [b]}\\n", "x.yaml")
Traceback (most recent call last):
...
rdg.errors.SpecError: x.yaml:3:38: step 'a' depends on unknown step 'b'
"""

from __future__ import annotations

import enum
import re
from functools import cached_property
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rdg.duration import parse_duration
from rdg.errors import SpecError
from rdg.spec._lint import LintKind, did_you_mean
from rdg.spec._checker import SpecChecker
from rdg.spec._workflow_expr import ExpressionError, references, templates
from rdg.spec._yaml import YamlDoc, load_yaml, load_yaml_text

__all__ = [
    "FailureMode", "ParamSpec", "RetrySpec", "RunStrategy", "StepSpec", "StepType", "TriggerSpec",
    "WorkflowSpec", "load_workflow", "parse_duration", "parse_workflow_data", "parse_workflow_text",
]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class StepType(str, enum.Enum):
    """What a step does."""

    NOOP = "noop"
    SLEEP = "sleep"
    PYTHON = "python"
    SHELL = "shell"
    HTTP = "http"
    PIPELINE = "pipeline"
    FOREACH = "foreach"
    SUBWORKFLOW = "subworkflow"


class FailureMode(str, enum.Enum):
    """What a step's final failure does to its run."""

    FAIL = "fail"
    """Fail the run at once and stop the steps still running (default)."""
    FINISH_RUNNING = "finish_running"
    """Start nothing new, let running steps end, then fail the run."""
    IGNORE = "ignore"
    """Mark the step completed-with-error and carry on."""


class RunStrategy(str, enum.Enum):
    """How a new run of a workflow relates to runs already going."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    FIRST_ONLY = "first_only"
    LAST_ONLY = "last_only"


_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
    "map": (dict,), "any": (object,),
}

# Fields each step type accepts besides the common ones.
_TYPE_FIELDS: dict[StepType, dict[str, str]] = {
    StepType.NOOP: {},
    StepType.SLEEP: {"seconds": "number or template"},
    StepType.PYTHON: {"callable": "'package.module:function'"},
    StepType.SHELL: {"command": "text", "env": "mapping", "cwd": "text"},
    StepType.HTTP: {"url": "text", "method": "text", "json": "any", "headers": "mapping",
                    "expect_status": "list of ints"},
    StepType.PIPELINE: {"pipeline": "text", "spec": "text", "events": "text", "args": "list", "env": "mapping",
                        "cwd": "text"},
    StepType.FOREACH: {"over": "expression", "concurrency": "int", "workflow": "workflow id",
                       "steps": "list of steps", "child_params": "mapping"},
    StepType.SUBWORKFLOW: {"workflow": "workflow id", "wait": "bool"},
}
_REQUIRED: dict[StepType, tuple[str, ...]] = {
    StepType.SLEEP: ("seconds",), StepType.PYTHON: ("callable",), StepType.SHELL: ("command",),
    StepType.HTTP: ("url",), StepType.PIPELINE: ("pipeline", "spec", "events"),
    StepType.FOREACH: ("over",), StepType.SUBWORKFLOW: ("workflow",),
}
# Fields that become command text, a working folder or arguments: no templates there (injection).
_NO_TEMPLATES: dict[StepType, tuple[str, ...]] = {StepType.SHELL: ("command", "cwd"),
                                                  StepType.PIPELINE: ("args", "cwd")}
PARAM_PREFIX = "RDG_P_"
"""Parameters reach commands as environment variables ``RDG_P_<NAME>`` (see rdg.workflow)."""
_COMMON = ("id", "type", "depends_on", "if", "params", "retry", "timeout", "on_failure", "breakpoint",
           "description")
_TOP = ("id", "description", "params", "steps", "timeout", "run_strategy", "max_parallel", "triggers")


@dataclass(frozen=True)
class ParamSpec:
    """A typed workflow parameter."""

    name: str
    type: str = "any"
    """One of string, int, float, bool, list, map, any. Default ``any``."""
    default: Any = None
    required: bool = False
    """``True`` when there is no default: a run must be started with a value."""

    def check(self, value: Any) -> Any:
        """Return ``value`` if it fits the type (ints widen to float), else raise ``ValueError``.

        >>> ParamSpec("n", "int").check(3)
        3
        """
        types = _PARAM_TYPES[self.type]
        if self.type in ("int", "float") and isinstance(value, bool):
            raise ValueError(f"parameter '{self.name}' must be {self.type}, not bool")
        if not isinstance(value, types):
            raise ValueError(f"parameter '{self.name}' must be {self.type}, not {type(value).__name__}")
        return float(value) if self.type == "float" else value


@dataclass(frozen=True)
class RetrySpec:
    """Retry limits, counted separately for user errors and platform errors, with backoff."""

    user: int = 0
    """Extra attempts after the step's own code fails. Default 0."""
    platform: int = 2
    """Extra attempts after a platform failure (worker died, server error). Default 2."""
    backoff: float = 1.0
    """Seconds before the first retry. Default 1."""
    factor: float = 2.0
    """Each further retry waits this many times longer. Default 2."""
    max_backoff: float = 300.0
    """Longest wait between attempts, in seconds. Default 300."""

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based).

        >>> RetrySpec(backoff=0.5, factor=2).delay(3)
        2.0
        """
        return min(self.max_backoff, self.backoff * self.factor ** max(0, retry_number - 1))


@dataclass(frozen=True)
class TriggerSpec:
    """Cron schedules and named signals that start runs."""

    cron: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepSpec:
    """One step of a workflow."""

    id: str
    type: StepType
    depends_on: tuple[str, ...] = ()
    condition: str | None = None
    """The ``if:`` expression; false means the step (and any step reached only through it) is skipped."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Step parameters; values may hold ``${{ expr }}`` templates."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The type's own fields (``command``, ``callable``, ``url``, ``over``...)."""
    retry: RetrySpec = field(default_factory=RetrySpec)
    timeout: float | None = None
    on_failure: FailureMode = FailureMode.FAIL
    breakpoint: bool = False
    child: "WorkflowSpec | None" = None
    """The inline workflow a foreach runs per item (from ``steps:``)."""
    line: int = 0

    @cached_property
    def has_expressions(self) -> bool:
        """Whether the step reads run state: an ``if:``, a template, or a foreach/subworkflow.

        >>> StepSpec("a", StepType.NOOP, params={"n": "${{ params.n }}"}).has_expressions
        True
        """
        return bool(self.condition or self.type in (StepType.FOREACH, StepType.SUBWORKFLOW)
                    or templates(dict(self.params)) or templates(dict(self.config)))


@dataclass(frozen=True)
class WorkflowSpec:
    """A validated workflow definition."""

    id: str
    steps: tuple[StepSpec, ...]
    description: str = ""
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    timeout: float | None = None
    run_strategy: RunStrategy = RunStrategy.PARALLEL
    max_parallel: int = 0
    """For the parallel strategy: most runs at once, 0 for no limit."""
    triggers: TriggerSpec = field(default_factory=TriggerSpec)
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The raw definition (plain data), stored with the definition so it can be parsed again."""
    file: str = "<string>"

    def step(self, step_id: str) -> StepSpec:
        """The step with this id (``KeyError`` if none)."""
        return self.steps[self.positions[step_id]]

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each step's index in :attr:`steps`."""
        return {step.id: i for i, step in enumerate(self.steps)}

    @cached_property
    def order(self) -> tuple[StepSpec, ...]:
        """Steps ordered so each comes after all of its dependencies (a valid spec has no cycle).

        >>> wf = WorkflowSpec("w", (StepSpec("b", StepType.NOOP, ("a",)), StepSpec("a", StepType.NOOP)))
        >>> [s.id for s in wf.order], wf.ancestors["b"], wf.dependents["a"]
        (['a', 'b'], ('a',), (0,))
        """
        done: set[str] = set()
        order: list[StepSpec] = []
        pending = list(self.steps)
        while pending:
            rest = []
            for step in pending:
                if all(d in done for d in step.depends_on):
                    done.add(step.id)
                    order.append(step)
                else:
                    rest.append(step)
            if len(rest) == len(pending):
                raise ValueError(f"workflow '{self.id}' has a dependency cycle")
            pending = rest
        return tuple(order)

    @cached_property
    def ancestors(self) -> dict[str, tuple[str, ...]]:
        """Every step's direct and indirect dependencies, sorted."""
        found: dict[str, set[str]] = {}
        for step in self.order:
            acc = set(step.depends_on)
            for dep in step.depends_on:
                acc |= found[dep]
            found[step.id] = acc
        return {sid: tuple(sorted(acc)) for sid, acc in found.items()}

    @cached_property
    def dependents(self) -> dict[str, tuple[int, ...]]:
        """For each step id, the indexes (in :attr:`steps`) of the steps that depend on it directly."""
        table: dict[str, list[int]] = {s.id: [] for s in self.steps}
        for i, step in enumerate(self.steps):
            for dep in step.depends_on:
                table[dep].append(i)
        return {sid: tuple(found) for sid, found in table.items()}

    def downstream(self, step_id: str) -> set[str]:
        """Ids of every step that depends on ``step_id``, directly or not (not including it)."""
        found: set[str] = set()
        frontier = [step_id]
        while frontier:
            cur = frontier.pop()
            for step in self.steps:
                if cur in step.depends_on and step.id not in found:
                    found.add(step.id)
                    frontier.append(step.id)
        return found

    def resolve_params(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults merged with ``given``, type-checked.

        Raises:
            ValueError: A parameter is unknown, missing or of the wrong type.
        """
        given = dict(given or {})
        unknown = set(given) - set(self.params)
        if unknown:
            name = sorted(unknown)[0]
            hint = did_you_mean(name, self.params)
            msg = f"workflow '{self.id}' has no parameter '{name}'" + (f" ({hint})" if hint else "")
            raise ValueError(msg)
        out: dict[str, Any] = {}
        for name, spec in self.params.items():
            if name in given:
                out[name] = spec.check(given[name])
            elif spec.required:
                raise ValueError(f"workflow '{self.id}' needs parameter '{name}' ({spec.type})")
            else:
                out[name] = spec.default
        return out


class _Checker(SpecChecker):
    """The workflow checks on top of the shared ones (expressions and their references)."""

    def expression(self, path: tuple[Any, ...], expr: Any, params: Mapping[str, ParamSpec],
                   upstream: set[str] | None, all_steps: set[str], owner: str) -> None:
        try:
            used_params, used_steps = references(str(expr))
        except ExpressionError as err:
            self.add(path, LintKind.BAD_VALUE, err.message, err.hint)
            return
        for name in sorted(used_params - set(params)):
            self.add(path, LintKind.BAD_REFERENCE, f"{owner} uses unknown parameter '{name}'",
                     did_you_mean(name, params) or "declare it under params:")
        for name in sorted(used_steps):
            if name not in all_steps:
                self.add(path, LintKind.BAD_REFERENCE, f"{owner} uses unknown step '{name}'",
                         did_you_mean(name, all_steps))
            elif upstream is not None and name not in upstream:
                self.add(path, LintKind.BAD_REFERENCE, f"{owner} reads step '{name}', which does not run before it",
                         f"add '{name}' to depends_on")


def _ancestors(deps: Mapping[str, tuple[str, ...]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}

    def visit(node: str, seen: set[str]) -> set[str]:
        if node in out:
            return out[node]
        acc: set[str] = set()
        for dep in deps.get(node, ()):
            if dep in deps and dep not in seen:
                acc.add(dep)
                acc |= visit(dep, seen | {dep})
        out[node] = acc
        return acc

    for node in deps:
        visit(node, {node})
    return out


def _find_cycle(deps: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, ()):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := dfs(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state and (found := dfs(node)):
            return found
    return None


def _params(ck: _Checker, path: tuple[Any, ...], raw: Any) -> dict[str, ParamSpec]:
    out: dict[str, ParamSpec] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        ck.add(path, LintKind.WRONG_TYPE, "params must be a mapping of name: {type, default}")
        return out
    for name, spec in raw.items():
        ppath = path + (name,)
        if not isinstance(name, str) or not _ID.match(name):
            ck.add(ppath, LintKind.BAD_VALUE, f"parameter name {name!r} must be a letter then letters, digits, _ or -",
                   at_key=True)
            continue
        if not isinstance(spec, Mapping):  # shorthand: name: default
            out[name] = ParamSpec(name, "any", spec, False)
            continue
        ck.unknown_keys(spec, ppath, ("type", "default", "required", "description"), f"parameter '{name}'")
        ptype = spec.get("type", "any")
        if ptype not in _PARAM_TYPES:
            ck.add(ppath + ("type",), LintKind.BAD_VALUE, f"unknown parameter type {ptype!r}",
                   did_you_mean(str(ptype), _PARAM_TYPES) or "use one of " + ", ".join(_PARAM_TYPES))
            continue
        required = bool(spec.get("required", "default" not in spec))
        param = ParamSpec(name, ptype, spec.get("default"), required)
        if "default" in spec and spec["default"] is not None:
            try:
                param.check(spec["default"])
            except ValueError as err:
                ck.add(ppath + ("default",), LintKind.WRONG_TYPE, f"default: {err}")
        out[name] = param
    return out


def _retry(ck: _Checker, path: tuple[Any, ...], raw: Any) -> RetrySpec:
    if raw is None:
        return RetrySpec()
    if isinstance(raw, int) and not isinstance(raw, bool):
        return RetrySpec(user=raw)
    if not isinstance(raw, Mapping):
        ck.add(path, LintKind.WRONG_TYPE, "retry must be a number of user retries or a mapping",
               "e.g. retry: {user: 2, platform: 3, backoff: 1s, factor: 2}")
        return RetrySpec()
    ck.unknown_keys(raw, path, ("user", "platform", "backoff", "factor", "max_backoff"), "retry")
    values: dict[str, Any] = {}
    for key in ("user", "platform"):
        if key in raw:
            if not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 0:
                ck.add(path + (key,), LintKind.WRONG_TYPE, f"retry.{key} must be a whole number >= 0")
            else:
                values[key] = raw[key]
    for key in ("backoff", "max_backoff"):
        if key in raw and (d := ck.duration(raw[key], path + (key,), key)) is not None:
            values[key] = d
    if "factor" in raw:
        if not isinstance(raw["factor"], (int, float)) or raw["factor"] < 1:
            ck.add(path + ("factor",), LintKind.BAD_VALUE, "retry.factor must be a number >= 1")
        else:
            values["factor"] = float(raw["factor"])
    return RetrySpec(**values)


def _triggers(ck: _Checker, path: tuple[Any, ...], raw: Any) -> TriggerSpec:
    if raw is None:
        return TriggerSpec()
    if not isinstance(raw, Mapping):
        ck.add(path, LintKind.WRONG_TYPE, "triggers must be a mapping with cron: and/or signals:")
        return TriggerSpec()
    ck.unknown_keys(raw, path, ("cron", "signals"), "triggers")
    crons: list[str] = []
    signals: list[str] = []
    for key, bucket in (("cron", crons), ("signals", signals)):
        items = raw.get(key) or []
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list):
            ck.add(path + (key,), LintKind.WRONG_TYPE, f"triggers.{key} must be a list of text")
            continue
        for i, item in enumerate(items):
            if not isinstance(item, str):
                ck.add(path + (key, i), LintKind.WRONG_TYPE, f"triggers.{key} entries must be text")
            else:
                bucket.append(item)
    from croniter import croniter

    for i, expr in enumerate(crons):
        if not croniter.is_valid(expr):
            ck.add(path + ("cron", i), LintKind.BAD_VALUE, f"{expr!r} is not a cron expression",
                   "5 fields (min hour day month weekday), or 6 with seconds last, e.g. '*/5 * * * *'")
    for i, name in enumerate(signals):
        if not re.match(r"^[A-Za-z0-9_-]+$", name):
            ck.add(path + ("signals", i), LintKind.BAD_VALUE, f"signal name {name!r} may hold only letters, digits, _ and -")
    return TriggerSpec(tuple(crons), tuple(signals))


def _workflow(ck: _Checker, path: tuple[Any, ...], data: Any, wf_id: str | None,
              inherited: Mapping[str, ParamSpec] | None = None) -> WorkflowSpec | None:
    if not isinstance(data, Mapping):
        ck.add(path, LintKind.WRONG_TYPE, "a workflow must be a mapping with id: and steps:")
        return None
    if wf_id is None:
        ck.unknown_keys(data, path, _TOP, "the workflow")
        wf_id = data.get("id")
        if not isinstance(wf_id, str) or not _ID.match(wf_id):
            ck.add(path + ("id",), LintKind.MISSING if wf_id is None else LintKind.BAD_VALUE,
                   "the workflow needs an id: a letter then up to 63 letters, digits, _ or -")
            wf_id = "invalid"
    if inherited is not None:  # an inline foreach child: the parent's parameters + child_params
        params = dict(inherited)
    else:
        params = _params(ck, path + ("params",), data.get("params"))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        ck.add(path + ("steps",), LintKind.MISSING, "the workflow needs a non-empty list of steps:")
        return None

    # First pass: ids and dependencies, so references can be checked in any order.
    ids: list[str] = []
    deps: dict[str, tuple[str, ...]] = {}
    for i, raw in enumerate(raw_steps):
        if not isinstance(raw, Mapping):
            ck.add(path + ("steps", i), LintKind.WRONG_TYPE, "each step must be a mapping with id: and type:")
            continue
        sid = raw.get("id")
        if not isinstance(sid, str) or not _ID.match(sid):
            ck.add(path + ("steps", i, "id"), LintKind.MISSING if sid is None else LintKind.BAD_VALUE,
                   "each step needs an id: a letter then letters, digits, _ or -")
            continue
        if sid in deps:
            ck.add(path + ("steps", i, "id"), LintKind.BAD_VALUE, f"step id '{sid}' is used twice")
            continue
        raw_deps = raw.get("depends_on", [])
        if isinstance(raw_deps, str):
            raw_deps = [raw_deps]
        if not isinstance(raw_deps, list) or not all(isinstance(d, str) for d in raw_deps):
            ck.add(path + ("steps", i, "depends_on"), LintKind.WRONG_TYPE, "depends_on must be a list of step ids")
            raw_deps = []
        ids.append(sid)
        deps[sid] = tuple(raw_deps)
    for i, raw in enumerate(raw_steps):
        if isinstance(raw, Mapping) and raw.get("id") in deps:
            raw_deps = raw.get("depends_on", [])
            raw_deps = [raw_deps] if isinstance(raw_deps, str) else raw_deps
            for j, dep in enumerate(deps[raw["id"]]):
                if dep not in deps:
                    where = path + ("steps", i, "depends_on") + ((j,) if isinstance(raw_deps, list) else ())
                    ck.add(where, LintKind.BAD_REFERENCE, f"step '{raw['id']}' depends on unknown step '{dep}'",
                           did_you_mean(dep, ids))
    cycle = _find_cycle(deps)
    if cycle:
        first = ids.index(cycle[0])
        ck.add(path + ("steps", first, "depends_on"), LintKind.BAD_REFERENCE,
               "the steps form a cycle: " + " -> ".join(cycle), "remove one of these depends_on entries")
        return None
    upstream = _ancestors(deps)

    steps: list[StepSpec] = []
    all_ids = set(ids)
    for i, raw in enumerate(raw_steps):
        if not isinstance(raw, Mapping) or raw.get("id") not in deps:
            continue
        step = _step(ck, path + ("steps", i), raw, params, upstream[raw["id"]], all_ids, wf_id)
        if step is not None:
            steps.append(step)

    strategy = RunStrategy.PARALLEL
    if "run_strategy" in data:
        try:
            strategy = RunStrategy(data["run_strategy"])
        except ValueError:
            ck.add(path + ("run_strategy",), LintKind.BAD_VALUE, f"unknown run_strategy {data['run_strategy']!r}",
                   did_you_mean(str(data["run_strategy"]), [s.value for s in RunStrategy])
                   or "use " + ", ".join(s.value for s in RunStrategy))
    max_parallel = data.get("max_parallel", 0)
    if not isinstance(max_parallel, int) or isinstance(max_parallel, bool) or max_parallel < 0:
        ck.add(path + ("max_parallel",), LintKind.WRONG_TYPE, "max_parallel must be a whole number >= 0")
        max_parallel = 0
    return WorkflowSpec(
        id=wf_id, steps=tuple(steps), description=str(data.get("description", "")), params=params,
        timeout=ck.duration(data.get("timeout"), path + ("timeout",), "timeout"), run_strategy=strategy,
        max_parallel=max_parallel, triggers=_triggers(ck, path + ("triggers",), data.get("triggers")),
        source=data, file=ck.doc.file,
    )


def _step(ck: _Checker, path: tuple[Any, ...], raw: Mapping[str, Any], params: Mapping[str, ParamSpec],
          upstream: set[str], all_ids: set[str], wf_id: str) -> StepSpec | None:
    sid = raw["id"]
    try:
        stype = StepType(raw.get("type"))
    except ValueError:
        kind = LintKind.MISSING if raw.get("type") is None else LintKind.BAD_VALUE
        ck.add(path + ("type",), kind, f"step '{sid}' needs a type, one of " + ", ".join(t.value for t in StepType),
               did_you_mean(str(raw.get("type")), [t.value for t in StepType]))
        return None
    own = _TYPE_FIELDS[stype]
    ck.unknown_keys(raw, path, list(_COMMON) + list(own), f"a {stype.value} step")
    for key in _REQUIRED.get(stype, ()):
        if key not in raw:
            ck.add(path, LintKind.MISSING, f"{stype.value} step '{sid}' needs '{key}:' ({own[key]})")
    owner = f"step '{sid}'"
    cond = raw.get("if")
    if cond is not None:
        ck.expression(path + ("if",), cond, params, upstream, all_ids, owner)
    step_params = raw.get("params", {}) or {}
    if not isinstance(step_params, Mapping):
        ck.add(path + ("params",), LintKind.WRONG_TYPE, "step params must be a mapping of name: value")
        step_params = {}
    config = {k: v for k, v in raw.items() if k in own}
    for key, value in list(step_params.items()) + [(k, v) for k, v in config.items() if k not in ("over", "steps")]:
        for expr in templates(value):
            ck.expression(path + (("params", key) if key in step_params else (key,)), expr, params, upstream,
                          all_ids, owner)
    child: WorkflowSpec | None = None
    if stype is StepType.FOREACH:
        if "over" in raw:
            ck.expression(path + ("over",), raw["over"], params, upstream, all_ids, owner)
        conc = raw.get("concurrency", 10)
        if not isinstance(conc, int) or isinstance(conc, bool) or conc < 1:
            ck.add(path + ("concurrency",), LintKind.WRONG_TYPE, "concurrency must be a whole number >= 1")
        has_wf, has_steps = "workflow" in raw, "steps" in raw
        if has_wf == has_steps:
            ck.add(path, LintKind.MISSING, f"foreach step '{sid}' needs exactly one of 'workflow:' (an id) or "
                   "'steps:' (inline steps run once per item)")
        child_params = raw.get("child_params") or {}
        if not isinstance(child_params, Mapping):
            ck.add(path + ("child_params",), LintKind.WRONG_TYPE, "child_params must be a mapping of name: value")
            child_params = {}
        if has_steps:
            inherited = {**params, **{k: ParamSpec(k) for k in child_params}}
            child = _workflow(ck, path, {"steps": raw["steps"]}, f"{wf_id}.{sid}", inherited)
    if stype is StepType.SUBWORKFLOW and "wait" in raw and not isinstance(raw["wait"], bool):
        ck.add(path + ("wait",), LintKind.WRONG_TYPE, "wait must be true or false")
    if stype is StepType.SHELL and not isinstance(raw.get("command", ""), (str, list)):
        ck.add(path + ("command",), LintKind.WRONG_TYPE, "command must be text or a list of arguments")
    for key in _NO_TEMPLATES.get(stype, ()):
        if key in raw and templates(raw[key]):
            ck.add(path + (key,), LintKind.BAD_VALUE, f"'{key}:' of step '{sid}' may not hold ${{{{ }}}} templates: "
                   "a value spliced into a command can run anything",
                   f"pass it as a step parameter and read ${PARAM_PREFIX}<NAME> in the command, e.g. "
                   f"params: {{name: \"${{{{ params.name }}}}\"}} and \"${PARAM_PREFIX}NAME\"")
    if stype is StepType.PYTHON and "callable" in raw and not re.match(
            r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$", str(raw["callable"])):
        ck.add(path + ("callable",), LintKind.BAD_VALUE, f"callable {raw['callable']!r} must look like "
               "'package.module:function'")
    try:
        on_failure = FailureMode(raw.get("on_failure", "fail"))
    except ValueError:
        ck.add(path + ("on_failure",), LintKind.BAD_VALUE, f"unknown on_failure {raw.get('on_failure')!r}",
               "use " + ", ".join(m.value for m in FailureMode))
        on_failure = FailureMode.FAIL
    line = ck.doc.where(*path)[0]
    return StepSpec(
        id=sid, type=stype, depends_on=tuple(raw.get("depends_on") or ()) if not isinstance(
            raw.get("depends_on"), str) else (raw["depends_on"],),
        condition=str(cond) if cond is not None else None, params=dict(step_params), config=config,
        retry=_retry(ck, path + ("retry",), raw.get("retry")),
        timeout=ck.duration(raw.get("timeout"), path + ("timeout",), "timeout"), on_failure=on_failure,
        breakpoint=bool(raw.get("breakpoint", False)), child=child, line=line,
    )


def _parse(doc: YamlDoc) -> WorkflowSpec:
    ck = _Checker(doc)
    spec = _workflow(ck, (), doc.data, None)
    if ck.lints or spec is None:
        raise SpecError(ck.lints or [doc.lint((), LintKind.MISSING, "empty workflow")])
    return spec


def parse_workflow_text(text: str, file: str = "<string>") -> WorkflowSpec:
    """Parse and validate workflow YAML text.

    Raises:
        SpecError: Every problem found, each with file:line:col and a fix.
    """
    return _parse(load_yaml_text(text, file))


def load_workflow(path: str | Path) -> WorkflowSpec:
    """Read and validate a workflow YAML file (see :func:`parse_workflow_text`)."""
    return _parse(load_yaml(path))


def parse_workflow_data(data: Mapping[str, Any], file: str = "<stored>") -> WorkflowSpec:
    """Validate a definition that is already plain data (as stored by ``rdg workflow push``)."""
    return _parse(YamlDoc(file=file, data=data))
