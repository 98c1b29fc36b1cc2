"""Load YAML safely and remember where every value came from (file, line, column).

>>> doc = load_yaml_text("a:\\n  b: [1, 2]\\n", "x.yaml")
>>> doc.data
{'a': {'b': [1, 2]}}
>>> doc.where("a", "b", 1)
(2, 10)
>>> doc.where("a", "missing")   # falls back to the nearest known parent
(2, 3)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from rdg.errors import SpecError
from rdg.spec._lint import Lint, LintKind

__all__ = ["YamlDoc", "load_yaml", "load_yaml_text", "plain_yaml"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

PathKey = tuple[Any, ...]
_SAFE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)


@dataclass
class YamlDoc:
    """Plain Python data plus a map from each value's path to its (line, column), 1-based."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, *path: Any) -> tuple[int, int]:
        """Line and column of the value at ``path``, or of its nearest parent we know."""
        for end in range(len(path), -1, -1):
            key = tuple(path[:end])
            if key in self.positions:
                return self.positions[key]
        return (1, 1)

    def where_key(self, *path: Any) -> tuple[int, int]:
        """Line and column of the mapping key that names ``path`` (for unknown-key lints)."""
        return self.key_positions.get(tuple(path)) or self.where(*path)

    def lint(self, path: PathKey, kind: LintKind, message: str, hint: str | None = None, *,
             at_key: bool = False) -> Lint:
        """A :class:`Lint` located at ``path`` in this document."""
        line, col = self.where_key(*path) if at_key else self.where(*path)
        return Lint(self.file, line, col, kind, message, hint)


def _interpolate(text: str, env: Mapping[str, str], missing: list[str]) -> str:
    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return match.group(0)

    return _ENV.sub(repl, text)


def _convert(node: yaml.Node, path: PathKey, doc: YamlDoc, env: Mapping[str, str] | None,
             missing: list[tuple[PathKey, str]]) -> Any:
    doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if node.tag not in _SAFE_TAGS:
        raise SpecError([doc.lint(path, LintKind.BAD_VALUE, f"YAML tag {node.tag!r} is not allowed",
                                  "specs hold plain data only: remove the tag")])
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            doc.key_positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _convert(value_node, path + (key,), doc, env, missing)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), doc, env, missing) for i, item in enumerate(node.value)]
    value = _scalar(node)
    if env is not None and isinstance(value, str) and "${" in value:
        names: list[str] = []
        value = _interpolate(value, env, names)
        missing.extend((path, n) for n in names)
    return value


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences rdg reads in YAML."""


def _refuse_aliases(text: str, file: str) -> None:
    """Raise a lint at the first alias (``*name``): a few bytes of aliases expand to gigabytes
    (or, self-referencing, never end), and a spec needs none; and at nesting deeper than
    :data:`MAX_DEPTH`. Scans events; expands nothing."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(file, event.start_mark.line + 1, event.start_mark.column + 1)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                raise SpecError([Lint(file, mark.line + 1, mark.column + 1, LintKind.BAD_VALUE,
                                      f"YAML alias *{event.anchor} is not allowed",
                                      "write the value out where it is used (aliases can expand without bound)")])
    except yaml.MarkedYAMLError:
        return  # compose reports syntax errors with their place


def _too_deep(file: str, line: int = 1, column: int = 1) -> SpecError:
    return SpecError([Lint(file, line, column, LintKind.SYNTAX, f"YAML nested more than {MAX_DEPTH} levels deep",
                           "a spec needs a few levels of nesting, not hundreds")])


def plain_yaml(text: str, file: str = "<string>") -> Any:
    """Parse a small YAML document (settings, a parameter value) into plain data, safely.

    Aliases are refused and nesting is bounded, like specs.

    >>> plain_yaml("a: [1, 2]")
    {'a': [1, 2]}
    >>> plain_yaml("a: &x [1]\\nb: *x", "rdg.yaml")
    Traceback (most recent call last):
    ...
    rdg.errors.SpecError: rdg.yaml:2:4: YAML alias *x is not allowed (write the value out where it is used (aliases can expand without bound))
    """
    _refuse_aliases(text, file)
    try:
        return yaml.safe_load(text)
    except RecursionError as err:
        raise _too_deep(file) from err


def load_yaml_text(text: str, file: str = "<string>", *, env: Mapping[str, str] | None = None) -> YamlDoc:
    """Parse YAML text with safe loading only; ``${VAR}`` and ``${VAR:-default}`` use ``env``.

    Aliases are refused (see :func:`plain_yaml`).

    Raises:
        SpecError: The text is not valid YAML, holds an alias, or names an environment variable
            that is unset.
    """
    _refuse_aliases(text, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = err.problem or "invalid YAML"
        raise SpecError([Lint(file, line, col, LintKind.SYNTAX, f"YAML syntax error: {problem}",
                              "check indentation and quoting on this line")]) from err
    except RecursionError as err:
        raise _too_deep(file) from err
    doc = YamlDoc(file=file, data=None)
    if node is None:
        doc.data = {}
        return doc
    missing: list[tuple[PathKey, str]] = []
    try:
        doc.data = _convert(node, (), doc, env, missing)
    except RecursionError as err:
        raise _too_deep(file) from err
    if missing:
        raise SpecError([doc.lint(p, LintKind.BAD_REFERENCE, f"environment variable ${{{name}}} is not set",
                                  f"export {name}=... or write ${{{name}:-default}}") for p, name in missing])
    return doc


def load_yaml(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> YamlDoc:
    """Read and parse a YAML file (see :func:`load_yaml_text`).

    Raises:
        SpecError: The file is missing, unreadable or not valid YAML.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError([Lint(str(p), 1, 1, LintKind.MISSING, f"cannot read {p}: {err.strerror}",
                              "check the path")]) from err
    except UnicodeDecodeError as err:
        line = p.read_bytes()[: err.start].count(b"\n") + 1
        raise SpecError([Lint(str(p), line, 1, LintKind.SYNTAX, f"not UTF-8 text (byte {err.start})",
                              "save the file as UTF-8")]) from err
    return load_yaml_text(text, str(p), env=env)
