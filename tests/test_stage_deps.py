"""dvc.yaml lists, for every stage, each source file its command imports: a change to any of them
makes `dvc status` report the stage as changed (tools/stage_deps.py)."""
from __future__ import annotations

from pathlib import Path

from tools.stage_deps import closure, stages, uncovered


def test_every_stage_depends_on_every_file_it_imports():
    found = stages()
    assert {"download", "train", "calibrate", "teacher", "student", "distill", "tokenize", "train_translation",
            "evaluate_translation", "tables"} <= set(found)
    missing = {name: uncovered(deps, closure(module)) for name, (module, deps) in found.items()}
    assert not {k: v for k, v in missing.items() if v}, "add these to the stages' deps in dvc.yaml"


def test_no_stage_imports_another_stage():
    modules = {m for m, _ in stages().values()}
    for name, (module, _) in stages().items():
        others = {Path(*m.split(".")).with_suffix(".py") for m in modules - {module}}
        assert not closure(module) & others, f"stage {name} imports another stage's module"


def _write(root: Path, rel: str, text: str) -> None:
    f = root / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)


def test_closure_follows_every_kind_of_import(tmp_path):
    """Relative and absolute imports, `from . import module`, imports inside functions, package
    __init__ files on the way; third-party modules and names that are not modules are left out."""
    _write(tmp_path, "pipeline/__init__.py", "from .alloc import x\n")
    _write(tmp_path, "pipeline/alloc.py", "x = 1\n")
    _write(tmp_path, "pipeline/stage_a.py", "import torch\nfrom .lib import helper\nfrom . import formula\n"
                                              "def main():\n    from .sub.deep import y\n")
    _write(tmp_path, "pipeline/lib.py", "def helper(): pass\n")
    _write(tmp_path, "pipeline/formula.py", "import pipeline.absolute\n")
    _write(tmp_path, "pipeline/absolute.py", "")
    _write(tmp_path, "pipeline/sub/__init__.py", "")
    _write(tmp_path, "pipeline/sub/deep.py", "from ..lib import helper\ny = 2\n")
    _write(tmp_path, "pipeline/unused.py", "")
    got = {str(p) for p in closure("pipeline.stage_a", tmp_path)}
    assert got == {"pipeline/__init__.py", "pipeline/alloc.py", "pipeline/stage_a.py", "pipeline/lib.py",
                   "pipeline/formula.py", "pipeline/absolute.py", "pipeline/sub/__init__.py",
                   "pipeline/sub/deep.py"}


def test_a_folder_dep_covers_its_files_and_a_missing_file_is_reported():
    files = {Path("pipeline/training/loop.py"), Path("pipeline/config.py")}
    assert uncovered(["pipeline/training", "pipeline/config.py"], files) == []
    assert uncovered(["pipeline/training"], files) == [Path("pipeline/config.py")]
    assert uncovered(["pipeline/train"], {Path("pipeline/training/loop.py")}) == [Path("pipeline/training/loop.py")]
