"""The run key: one computation for every kind of run, its hashed code derived from the imports, not listed."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.io import file_digests
from tests.test_backend import corpus as corpus  # the fixture: a toy project with a tokenised corpus
from tests.test_many import BASE, CPU, STACK, cfg, ls

NUMERICS_FCN = {"pipeline.training.run", "pipeline.training.loop", "pipeline.training.builders", "pipeline.losses",
                "pipeline.data.inputs", "pipeline.data.augment", "pipeline.data.prepared", "pipeline.models",
                "pipeline.models.fcn"}


def test_a_classifiers_hashed_code_is_its_recipes_import_closure_without_bookkeeping():
    from pipeline.training.run_key import BOOKKEEPING, code_closure, code_roots
    fcn = set(code_closure(code_roots({"arch": "fcn"}, {"stack": False})))
    assert NUMERICS_FCN <= fcn and "pipeline.training.restore" in fcn  # a teacher's logits come from restore
    assert not fcn & BOOKKEEPING
    assert "pipeline.models.alexnet" not in fcn  # another model's file: editing it keeps FCN runs valid
    assert "pipeline.training.many" not in fcn and "pipeline.training.stacking" not in fcn  # trained alone
    stacked = set(code_closure(code_roots({"arch": "fcn"}, {"stack": True})))
    assert {"pipeline.training.many", "pipeline.training.stacking", "pipeline.models.stacked_fcn"} <= stacked
    assert not {"pipeline.models.alexnet", "pipeline.models.stacked_alexnet"} & stacked  # by name, not imported
    transformer = set(code_closure(code_roots({"arch": "transformer"}, {})))
    assert {"pipeline.text.translation_run", "pipeline.text.batches", "pipeline.text.metrics", "pipeline.losses",
            "pipeline.models.transformer", "pipeline.training.loop"} <= transformer
    assert "pipeline.models.fcn" not in transformer and "pipeline.data.augment" not in transformer


def test_a_helper_a_model_imports_is_in_the_closure(tmp_path):
    """A new module that a model starts to import is hashed without anyone listing it."""
    from pipeline.imports import closure
    pkg = tmp_path / "pipeline"
    for f, text in {"__init__.py": "", "io.py": "import pipeline.layout\n", "layout.py": "",
                    "models/__init__.py": "", "models/net.py": "from ..blocks.attention import Attention\n",
                    "blocks/__init__.py": "", "blocks/attention.py": "def f():\n    from . import norm\n",
                    "blocks/norm.py": "from pipeline import io\n"}.items():
        (pkg / f).parent.mkdir(parents=True, exist_ok=True)
        (pkg / f).write_text(text)
    found = closure(["pipeline.models.net"], frozenset({"pipeline.io"}), root=tmp_path)
    assert {"pipeline.models.net", "pipeline.blocks.attention", "pipeline.blocks.norm", "pipeline.blocks",
            "pipeline.models", "pipeline"} == found  # io is bookkeeping: neither it nor what it imports


def test_the_key_changes_with_a_hashed_files_bytes_and_not_with_a_bookkeeping_file(tmp_path, monkeypatch):
    from pipeline.training import run_key as rk
    c, sha = cfg(0, ls(0.1)), "ab" * 32
    ex = {"precision": "fp32", "channels_last": False, "compile": False, "stack": False}
    before = rk.key_of(c, sha, ex)
    real = rk.module_file

    def edited(name):  # one statement more in a module: the copy stands in for it
        f = real(name)
        if name in (target,):
            copy = tmp_path / f"{name}.py"
            copy.write_bytes(f.read_bytes() + b"_planted = 1\n")
            return copy
        return f
    monkeypatch.setattr(rk, "module_file", edited)
    for target, changes in (("pipeline.losses", True), ("pipeline.data.augment", True),
                            ("pipeline.training.run_folder", False), ("pipeline.io", False)):
        assert (rk.key_of(c, sha, ex) != before) is changes, target


@pytest.mark.parametrize("field, other", [("precision", "fp32"), ("channels_last", True), ("compile", True),
                                          ("stack", True)])
def test_the_key_changes_with_each_resolved_execution_setting(field, other):
    """bf16 against fp32, channels_last, compile and stacking change a run's float rounding: each is in the key."""
    from pipeline.training.run_key import key_of
    c, ex = cfg(0, ls(0.1)), {"precision": "bf16", "channels_last": False, "compile": False, "stack": False}
    assert key_of(c, "cd" * 32, ex | {field: other}) != key_of(c, "cd" * 32, ex)


def test_the_key_does_not_depend_on_the_working_directory(tmp_path, monkeypatch, root):
    from pipeline.training.run_key import key_of
    c, ex = cfg(0, ls(0.1)), {"precision": "bf16", "channels_last": False, "compile": False, "stack": False}
    monkeypatch.chdir(root)
    here = key_of(c, "cd" * 32, ex)
    monkeypatch.chdir(tmp_path)
    assert key_of(c, "cd" * 32, ex) == here


@pytest.mark.parametrize("kind", ["classifier", "stacked", "transformer"])
def test_every_module_a_training_run_loads_is_hashed_or_bookkeeping(corpus, root, kind):
    """Train runs of each kind in a fresh process (a classifier, two stacked FCN members, a Transformer), then
    list the package's modules it loaded: each is in the run's hashed closure or reached only through a
    bookkeeping module. A model that imported a helper by name (importlib) would fail here."""
    from tests.test_backend import translations
    jobs = {"classifier": ([("r", cfg(0, ls(0.1)))], BASE, "CLASSIFIER"),
            "stacked": ([(f"s{s}", cfg(s, ls(0.1))) for s in (0, 1)], STACK, "CLASSIFIER"),
            "transformer": ([(str(j.run_dir), j.cfg) for j in translations("t")], BASE, "TRANSLATION")}[kind]
    trainer = ("from pipeline.training.dispatch import CLASSIFIER_TRAINER as T\n" if jobs[2] == "CLASSIFIER" else
               "from pipeline.text.translation_run import TRANSLATION_TRAINER as T\n")
    script = (f"import sys, json; sys.path.insert(0, {str(root)!r})\n"
              "from pathlib import Path\n"
              "import torch\n"
              "from pipeline.training.backend import Job, train_runs\n" + trainer +
              f"jobs = [Job(Path(d), c) for d, c in json.loads({json.dumps(jobs[0])!r})]\n"
              f"m = train_runs(jobs, torch.device('cpu'), {jobs[1]!r}, T)\n"
              "print(json.dumps([sorted(m for m in sys.modules if m.split('.')[0] == 'pipeline'), "
              "m[0]['execution'], [x['key'] for x in m]]))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=corpus, capture_output=True, text=True, check=True)
    loaded, execution, keys = json.loads(out.stdout.strip().splitlines()[-1])
    from pipeline.imports import closure
    from pipeline.training.run_key import BOOKKEEPING, RECIPE, code_closure, code_roots, key_of
    from pipeline.training.run_key import kind as kind_of
    c = jobs[0][0][1]
    assert kind_of(c, execution) == kind  # the runs trained as this kind (stacked: as members of one group)
    hashed = set(code_closure(code_roots(c, execution)))
    via_bookkeeping = closure(sorted(BOOKKEEPING), frozenset(RECIPE.values()))  # not through another recipe
    assert set(loaded) - hashed <= via_bookkeeping, set(loaded) - hashed - via_bookkeeping
    if kind == "classifier":  # trained alone: none of the stacking code is even loaded
        assert not {"pipeline.training.many", "pipeline.training.stacking"} & set(loaded)
    if kind != "transformer":
        assert NUMERICS_FCN <= set(loaded)
        assert keys[0] == key_of(c, file_digests(corpus / "data/prepared/toy.pt")["sha256"], execution)


def test_stacking_and_the_execution_agree_on_which_models_stack():
    from pipeline.training.builders import STACKABLE_MODELS
    from pipeline.training.stacking import STACKED
    assert set(STACKABLE_MODELS) == set(STACKED)


@pytest.mark.parametrize("arch", ["fcn", "transformer"])
def test_one_key_function_for_every_kind_of_run(toy, arch):
    """Classifiers and Transformers get their key from ``run_key.run_key``; the backend asks one ``finished``."""
    from pipeline.training.backend import Job, finished
    from pipeline.training.run_key import TRANSLATION_DATA, run_key
    if arch == "transformer":
        from pipeline.io import save_tensors
        from tests.test_translation_eval import _split
        save_tensors(toy / TRANSLATION_DATA, {s: _split(n=8, seed=i)[0] for i, s in enumerate(("train", "val",
                                                                                                   "test"))})
        c = {"arch": "transformer", "dataset": "multi30k", "alpha": 0.1, "seed": 0, "model": {"dropout": 0.0}}
    else:
        c = cfg(0, ls(0.1))
    key, resolved = run_key(c, CPU, BASE)
    assert len(key) == 16 and resolved["stack"] is False
    assert not finished(Job(toy / "nothing", c), CPU, BASE)


def test_a_hashed_file_changed_after_the_process_started_stops_the_key(monkeypatch, tmp_path):
    """A long run (a results piece) that outlives an edit of the training code must not key its next runs by
    the edited bytes, which it never ran: it stops in one line instead."""
    from pipeline.training import run_key as rk
    c, ex = cfg(0, ls(0.1)), {"precision": "fp32", "channels_last": False, "compile": False, "stack": False}
    rk.key_of(c, "ab" * 32, ex)  # fine: nothing changed since this process imported the code
    monkeypatch.setattr(rk, "STARTED_NS", 0)  # as if the process had started before every file was written
    with pytest.raises(rk.CodeChangedError, match="changed while this process was running"):
        rk.key_of(c, "ab" * 32, ex)


def test_comments_docstrings_and_blank_lines_are_not_in_the_key_and_code_is():
    from pipeline.training.run_key import code_text
    src = 'def f(x):\n    """Doubles."""\n    return 2 * x  # twice\n\n\nS = "# not a comment"\n'
    same = ('"""A module."""\n# a note\ndef f(x):\n    """Doubles x, reworded."""\n\n    return 2 * x\n'
            'S = "# not a comment"   \n')
    assert code_text(src) == code_text(same) == 'def f(x):\n    return 2 * x\nS = "# not a comment"'
    assert code_text(src.replace("2 * x", "3 * x")) != code_text(src)
    assert code_text(src.replace('"# not a comment"', '"#"')) != code_text(src)  # a string is code


def test_the_key_is_the_same_after_a_docstring_or_comment_edit(tmp_path, monkeypatch):
    from pipeline.training import run_key as rk
    c, ex = cfg(0, ls(0.1)), {"precision": "fp32", "channels_last": False, "compile": False, "stack": False}
    before = rk.key_of(c, "ab" * 32, ex)
    real = rk.module_file
    copy = tmp_path / "loop.py"
    copy.write_text(real("pipeline.training.loop").read_text().replace('"""The generic training loop',
                                                                       '# reworded\n"""The training loop'))
    monkeypatch.setattr(rk, "module_file", lambda m: copy if m == "pipeline.training.loop" else real(m))
    assert rk.key_of(c, "ab" * 32, ex) == before
