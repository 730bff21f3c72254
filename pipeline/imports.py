"""The package's own import graph, read from its source: which first-party modules a module may run.

Used where the code a result depends on must be known without a hand-written list: a stage's DVC deps
(tools/stage_deps.py) and a run's key (pipeline/training/run_key.py). Imports inside functions count, and so do
the ``__init__`` files of the packages above a module (importing it runs them). Modules are dotted names, so
nothing here depends on the working directory.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the folder that holds the package
PACKAGE = Path(__file__).resolve().parent.name


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The file of first-party module ``name`` (a.b.c; a package's ``__init__.py``), or None."""
    base = root / Path(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def package_inits(name: str) -> list[str]:
    """a.b.c -> [a, a.b]: the packages whose ``__init__`` runs when a.b.c is imported."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(file: Path, name: str, root: Path = ROOT) -> set[str]:
    """First-party modules that ``file`` (module ``name``) imports anywhere in its body."""
    here = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[:len(here) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import submodule`
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(m, root)}


def closure(roots: list[str], stop: frozenset[str] = frozenset(), root: Path = ROOT) -> set[str]:
    """Every first-party module that importing ``roots`` may run, not entering (nor counting) ``stop``."""
    todo, seen = [m for r in roots for m in (r, *package_inits(r))], set()
    while todo:
        m = todo.pop()
        if m in seen or m in stop:
            continue
        seen.add(m)
        todo += [*imported_modules(module_file(m, root), m, root), *package_inits(m)]
    return seen
