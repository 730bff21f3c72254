"""Which source files each DVC stage runs, and whether dvc.yaml lists them as deps.

    python tools/stage_deps.py            # per stage: the first-party files its module imports, and those
                                          # no dep of the stage covers (exit 1 if any)
    python tools/stage_deps.py --write    # set each stage's code deps in dvc.yaml to exactly those files

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


# Packages that import their own modules by name (importlib), which no import statement shows: a stage that
# imports the package may run any of them. (A run's key hashes only its own model: pipeline/training/run_key.py.)
BY_NAME = {"pipeline.models": "build_model imports pipeline/models/<name>.py by the run's model name"}


def closure(module: str, root: Path = ROOT) -> set[Path]:
    """Every first-party file that running ``python -m module`` may import (relative to root)."""
    main = f"{module}.__main__"  # `python -m package` runs the package's __main__.py
    names = module_closure([module] + ([main] if module_file(main, root) else []), root=root)
    for pkg in BY_NAME:
        if pkg in names:
            folder = module_file(pkg, root).parent
            names |= module_closure([f"{pkg}.{f.stem}" for f in sorted(folder.glob("*.py")) if f.stem != "__init__"],
                                    root=root)
    return {module_file(m, root).relative_to(root) for m in names}


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


def write_deps(root: Path = ROOT) -> int:
    """Replace each stage's ``- pipeline/...`` dep lines in dvc.yaml by its closure, file by file (sorted), so a
    stage depends on what it runs and on nothing else; other deps (data, models) and comments stay. Returns the
    number of stages whose code deps changed."""
    found, changed = stages(root), 0
    lines, out, stage, i = (root / "dvc.yaml").read_text().splitlines(keepends=True), [], None, 0
    while i < len(lines):
        line = lines[i]
        if (m := re.match(r"^  (\w+):\s*$", line)):
            stage = m.group(1)
        if re.match(r"^\s+deps:\s*$", line) and stage in found:
            out.append(line)
            i += 1
            block = []
            while i < len(lines) and re.match(r"^\s+- ", lines[i]):
                block.append(lines[i])
                i += 1
            indent = re.match(r"^(\s+)", block[0]).group(1)
            code = [f"{indent}- {f.as_posix()}\n" for f in sorted(closure(found[stage][0], root))]
            kept = [b for b in block if not b.strip()[2:].startswith("pipeline/")]
            changed += kept + code != block
            out += kept + code
            continue
        out.append(line)
        i += 1
    (root / "dvc.yaml").write_text("".join(out))
    return changed


def main() -> int:
    if sys.argv[1:] == ["--write"]:
        print(f"{write_deps()} stage(s) given their exact code deps")
        return 0
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
