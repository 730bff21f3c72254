"""Which source files each DVC stage runs, and whether dvc.yaml lists them as deps.

    python tools/stage_deps.py            # per stage: the first-party files its module imports, and those
                                          # no dep of the stage covers (exit 1 if any)

A stage's command is ``python -m pipeline.<module>``; its code is that module's import closure
over the ``pipeline`` package (imports inside functions included, package ``__init__`` files
included, since importing a submodule runs them). A dep covers a file when it is the file or a
folder above it. A file the closure misses is a change that ``dvc status`` would not see.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.imports import closure as module_closure, module_file  # noqa: E402, I001


def closure(module: str, root: Path = ROOT) -> set[Path]:
    """Every first-party file that running ``python -m module`` may import (relative to root)."""
    return {module_file(m, root).relative_to(root) for m in module_closure([module], root=root)}


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
