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
    "spec": {"graph", "bus", "pipeline", "live", "workflow", "cli", "stack"},
    "graph": {"bus", "pipeline", "live", "workflow", "cli"},
    "bus": {"graph", "pipeline", "live", "workflow", "cli"},
    "pipeline": {"live", "workflow", "cli"},
    "live": {"pipeline", "workflow", "cli"},
    "workflow": {"live", "cli"},
    "stack": {"graph", "bus", "pipeline", "live", "workflow", "cli"},
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


def _private_imports(path: Path, own: str) -> list[str]:
    """``from rdg.<other>._x import ...`` or ``from rdg.<other> import _x`` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rdg.") and node.level == 0:
            parts = node.module.split(".")
            if len(parts) < 2 or parts[1] == own:
                continue
            names = [a.name for a in node.names]
            if any(p.startswith("_") for p in parts[2:]) or any(n.startswith("_") for n in names):
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} from {node.module} import {', '.join(names)}")
    return found


def test_no_package_imports_another_packages_private_names() -> None:
    """A package's underscore modules and names are its own: others use what its __init__ exports."""
    bad = []
    for package in sorted(p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        for path in sorted(package.rglob("*.py")):
            bad += _private_imports(path, package.name)
    assert not bad, "private imports across packages:\n" + "\n".join(bad)


def test_a_long_module_says_why_at_its_top() -> None:
    """Modules stay small enough to hold in one's head; one over 400 lines says why in its docstring."""
    unexplained = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400 and "Longer than most modules:" not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{path.relative_to(ROOT.parent)} ({text.count(chr(10))} lines)")
    assert not unexplained, "long modules without a reason at the top:\n" + "\n".join(unexplained)
