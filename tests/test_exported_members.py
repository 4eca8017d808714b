"""Every public name is exported on purpose (in the style of httpx's ``test_exported_members``).

A public module (no ``_`` in its dotted path) has an ``__all__``; every name in it exists; and
every public name the module itself defines (functions, classes, module-level assignments) is in
it: a helper that is not meant to be used from outside starts with ``_``. The packages users
import from (``pipecast``, ``pipecast.dsl``) export exactly their public attributes.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import pipecast
from pipecast import dsl

PACKAGES = (
    "pipecast",
    "pipecast.dsl",
    "pipecast.compilers",
    "pipecast.components",
    "pipecast.schemas",
    "pipecast.deploy",
    "pipecast.runner",
)


def _public_modules() -> Iterator[str]:
    seen: set[str] = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        seen.add(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            leaf = info.name.rsplit(".", 1)[-1]
            hidden = any(p.startswith("_") for p in info.name.split(".")[1:])
            if hidden or leaf == "tests" or info.name in seen or ".tests" in info.name:
                continue
            seen.add(info.name)
    yield from sorted(seen)


def _defined_here(module: ModuleType) -> set[str]:
    """Public names the module's own top level defines (imports excluded)."""
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", list(_public_modules()))
def test_public_module_exports_what_it_defines(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"
    unexported = sorted(_defined_here(module) - set(exported))
    assert not unexported, f"{name} defines {unexported} without exporting them (or a leading _)"


@pytest.mark.parametrize("package", [pipecast, dsl])
def test_user_facing_packages_export_exactly_their_public_attributes(package):
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_")
        and not isinstance(value, ModuleType)  # submodules, once imported
        and member != "annotations"  # from __future__ import annotations
    }
    included_private = {"__version__"}
    lazy = {n for n in package.__all__ if n not in vars(package) and hasattr(package, n)}
    assert set(package.__all__) - included_private == public | lazy


def test_the_ir_module_is_a_leaf():
    """``pipecast.dsl.spec`` imports nothing from the DSL's builders, compilers or the runner."""
    path = Path(importlib.import_module("pipecast.dsl.spec").__file__ or "")
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            imported.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert {m for m in imported if m.startswith((".", "pipecast"))} == {"pipecast.errors"}
