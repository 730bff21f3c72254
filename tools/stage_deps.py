"""Which source files each DVC stage runs, and whether dvc.yaml lists them as deps.

    python tools/stage_deps.py            # per stage: the first-party files its module imports, and those
                                          # no dep of the stage covers (exit 1 if any)

A stage's command is ``python -m pipeline.<module>``; its code is that module's import closure
over the ``pipeline`` package (imports inside functions included, package ``__init__`` files
included, since importing a submodule runs them). A dep covers a file when it is the file or a
folder above it. A file the closure misses is a change that ``dvc status`` would not see.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pipeline"


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The file of first-party module ``name`` (a.b.c), or None if it is not one."""
    base = root / Path(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.exists():
            return f
    return None


def _package_inits(name: str, root: Path) -> list[str]:
    """a.b.c -> [a, a.b]: the packages whose __init__ runs when a.b.c is imported."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(file: Path, name: str, root: Path = ROOT) -> set[str]:
    """First-party modules that ``file`` (module ``name``) imports anywhere in its body."""
    is_pkg = file.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import submodule`
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(m, root)}


def closure(module: str, root: Path = ROOT) -> set[Path]:
    """Every first-party file that running ``python -m module`` may import (relative to root)."""
    todo, seen = [module, *_package_inits(module, root)], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        f = module_file(m, root)
        todo += [*imported_modules(f, m, root), *_package_inits(m, root)]
    return {module_file(m, root).relative_to(root) for m in seen}


def stages(root: Path = ROOT) -> dict[str, tuple[str, list[str]]]:
    """stage name -> (module its cmd runs, its deps); a foreach stage counts once (its deps are templated
    only by ${key}, and its module is the same for every key)."""
    out = {}
    for name, st in yaml.safe_load((root / "dvc.yaml").read_text())["stages"].items():
        st = st.get("do", st)
        m = re.search(r"python -m ([\w.]+)", st["cmd"])
        if m:
            out[name] = (m.group(1), [str(d) for d in st.get("deps", [])])
    return out


def uncovered(deps: list[str], files: set[Path]) -> list[Path]:
    dep_paths = [Path(d.rstrip("/")) for d in deps if "${" not in d]
    return sorted(f for f in files if not any(f == d or d in f.parents for d in dep_paths))


def main() -> int:
    bad = 0
    for name, (module, deps) in stages().items():
        files = closure(module)
        missing = uncovered(deps, files)
        bad += len(missing)
        print(f"{name} ({module}): {len(files)} files" + (f"; not in deps: {', '.join(map(str, missing))}"
                                                          if missing else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
