"""Dependencies point one way: spec <- graph, bus <- pipeline, live, workflow <- cli.

A lower package never imports a higher one; this test parses every module's imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "rdg"

# package -> packages it must never import
FORBIDDEN = {
    "spec": {"graph", "bus", "pipeline", "live", "workflow", "cli", "stack", "sim"},
    "graph": {"bus", "pipeline", "live", "workflow", "cli", "sim"},
    "bus": {"graph", "pipeline", "live", "workflow", "cli", "sim"},
    "pipeline": {"live", "workflow", "cli", "sim"},
    "live": {"pipeline", "workflow", "cli", "sim"},
    "workflow": {"live", "cli", "sim"},
    "stack": {"graph", "bus", "pipeline", "live", "workflow", "cli", "sim"},
    "sim": {"pipeline", "workflow", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name.split(".")[1] for name in found if name.startswith("rdg.") and name.count(".") >= 1}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_higher_ones(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in _imports(path) & FORBIDDEN[package]:
            bad.append(f"{path.relative_to(ROOT.parent)} imports rdg.{imported}")
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_every_package_is_checked() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"cli", "data"} <= set(FORBIDDEN), packages


def _private_imports(source: str, own: str | None) -> list[str]:
    """``from rdg.<other>._x import ...``, ``from rdg.<other> import _x`` or ``import rdg.<other>._x``
    in one module's ``source``, as ``line: statement``. ``own``: the package the module is in (its
    own underscore names are fine); None for a script outside every package (``bench/``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports = [(node.module, [a.name for a in node.names])]
        elif isinstance(node, ast.Import):
            imports = [(a.name, []) for a in node.names]
        else:
            continue
        for module, names in imports:
            parts = module.split(".")
            if parts[0] != "rdg" or len(parts) < 2 or parts[1] == own:
                continue
            if any(p.startswith("_") for p in parts[1:]) or any(n.startswith("_") for n in names):
                found.append((node.lineno, f"from {module} import {', '.join(names)}" if names else f"import {module}"))
    return [f"{line}: {statement}" for line, statement in sorted(found)]


def test_no_package_imports_another_packages_private_names() -> None:
    """A package's underscore modules and names are its own: others use what its __init__ exports."""
    bad = []
    for package in sorted(p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        for path in sorted(package.rglob("*.py")):
            where = path.relative_to(ROOT.parent)
            bad += [f"{where}:{found}" for found in _private_imports(path.read_text(encoding="utf-8"), package.name)]
    assert not bad, "private imports across packages:\n" + "\n".join(bad)


def test_no_bench_script_imports_private_names() -> None:
    """A benchmark is outside every package: it uses only what the packages' __init__ export."""
    scripts = sorted((ROOT.parent / "bench").glob("*.py"))
    assert scripts
    bad = [f"{path.relative_to(ROOT.parent)}:{found}"
           for path in scripts for found in _private_imports(path.read_text(encoding="utf-8"), None)]
    assert not bad, "private imports in bench/:\n" + "\n".join(bad)


@pytest.mark.parametrize(("line", "own", "private"), [
    ("from rdg.stack._nats import binary", None, True),
    ("from rdg.stack import _janusgraph", None, True),
    ("import rdg.pipeline._tables as tables", None, True),
    ("import os, rdg.stack._process", "pipeline", True),
    ("from rdg.stack._nats import binary", "stack", False),
    ("from rdg.stack import start_for_tests", None, False),
    ("import rdg.pipeline", None, False),
    ("from rdg import errors", None, False),
])
def test_the_private_import_check_sees_every_form(line: str, own: str | None, private: bool) -> None:
    assert bool(_private_imports(line, own)) is private


def test_a_long_module_says_why_at_its_top() -> None:
    """Modules stay small enough to hold in one's head; one over 400 lines says why in its docstring."""
    unexplained = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400 and "Longer than most modules:" not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{path.relative_to(ROOT.parent)} ({text.count(chr(10))} lines)")
    assert not unexplained, "long modules without a reason at the top:\n" + "\n".join(unexplained)



def test_the_library_never_launches_its_own_cli() -> None:
    """Processes the library starts run library code (``python -m rdg.pipeline._worker``), never ``python -m rdg``."""
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.relative_to(ROOT).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.List, ast.Tuple)):
                texts = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                if any(a == "-m" and b == "rdg" for a, b in zip(texts, texts[1:])):
                    bad.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not bad, "the library spawns its own CLI (call the library in the child instead):\n" + "\n".join(bad)


def _module_imports(path: Path) -> set[str]:
    """The rdg modules a module imports at its top level (imports inside functions are lazy on
    purpose and cannot form a cycle at import time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rdg") and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rdg"))
    return found


def test_no_import_cycle_between_modules() -> None:
    """Module A importing B while B imports A (directly or round a loop) is refused; a package's
    ``__init__`` gathering its own modules is not a cycle, so package names are left out."""
    modules = {".".join(p.relative_to(ROOT.parent).with_suffix("").parts): p for p in ROOT.rglob("*.py")
               if p.name != "__init__.py"}
    graph = {name: sorted(m for m in _module_imports(path) if m in modules and m != name)
             for name, path in modules.items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in graph[node]:
            if seen.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [node, nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in seen:
                visit(nxt, path + [node])
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
