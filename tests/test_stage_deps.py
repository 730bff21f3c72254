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


def test_train_depends_on_what_it_reads_of_the_profile_and_not_on_the_transformer(root):
    """The classifier stage lists the profile keys it reads, so a change to the Transformer's lr or epochs does
    not invalidate it (every key it reads: run_configs and config.classifiers / alphas_to_train)."""
    import yaml
    train = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train"]["params"]
    profile = {p.split(".", 2)[2] for p in train if isinstance(p, str) and p.startswith("profiles.${profile}.")}
    assert "profiles.${profile}" not in train and "translation" not in profile
    assert {"classifiers", "sweep_models", "seeds", "fcn_epochs", "max_train_examples", "schedules"} == profile


def test_a_stage_that_builds_models_by_name_depends_on_every_model_file(root):
    """build_model imports a model's file by name; no import statement shows it, so the stage's deps must list
    every model file (editing AlexNet re-keys its runs: DVC has to see the change)."""
    files = closure("pipeline.stages.train")
    models = {f.relative_to(root) for f in (root / "pipeline/models").glob("*.py")}
    assert models <= files


def test_a_package_run_with_python_m_depends_on_its_main(root):
    """`python -m pipeline.config` runs pipeline/config/__main__.py (and what it imports: the stage wrapper)."""
    files = closure("pipeline.config")
    assert {Path("pipeline/config/__main__.py"), Path("pipeline/stage.py")} <= files


class _Reads(dict):
    """A params dict that records the dotted path of every key read from it (``active`` is the profile)."""

    def __init__(self, d: dict, path: str, seen: set):
        super().__init__(d)
        self.path, self.seen = path, seen

    def _read(self, k, v):
        path = f"{self.path}.{k}" if self.path else ("profiles.${profile}" if k == "active" else str(k))
        self.seen.add(path)
        return _Reads(v, path, self.seen) if isinstance(v, dict) else v

    def __getitem__(self, k):
        return self._read(k, dict.__getitem__(self, k))

    def get(self, k, default=None):
        return self[k] if k in self else default

    def items(self):
        return [(k, self[k]) for k in dict.keys(self)]

    def values(self):
        return [self[k] for k in dict.keys(self)]


def test_tables_depends_on_every_param_it_reads_and_not_the_whole_profile(root, monkeypatch):
    """The tables stage describes the profile (schedules, seeds, the Transformer's settings) beside its metrics:
    each key it reads is a params dep, so editing any of them reruns it; keys it never reads (the distillation
    grids, the MI stage's example count) are not."""
    import yaml

    from pipeline.config import load_params
    from pipeline.reporting.paper_tables import document
    monkeypatch.chdir(root)  # the committed metrics of the default profile, which runs every part of the document
    # (another profile that skips Figure 8, Figure 6 or translation reads a subset of these keys)
    seen: set[str] = set()
    document(_Reads(load_params(root / "params.yaml"), "", seen))
    deps = [d for d in yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["tables"]["params"]
            if isinstance(d, str)]
    assert "profiles.${profile}" not in deps
    read = {s for s in seen if not any(t.startswith(s + ".") for t in seen)}  # not a step on the way to a key
    uncovered = sorted(s for s in read if not any(s == d or s.startswith(d + ".") for d in deps))
    assert not uncovered, f"read by the tables stage but not in its params: {uncovered}"
    assert not [d for d in deps if not any(s == d or s.startswith(d + ".") for s in read)], "a dep it never reads"
