"""The end-to-end test's repository: a temporary copy of this one, its params shrunk, and one `dvc repro`
(tests/test_pipeline_e2e.py imports the ``repo`` fixture; module-scoped, so it is built once per file)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DVC = str(Path(sys.executable).with_name("dvc"))
COPY = ["pipeline", "params.yaml", "dvc.yaml", ".dvc/config", ".dvc/plots", ".dvcignore", ".gitignore"]


def sh(cmd: list[str], cwd: Path, env: dict, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope="module", name="repo")
def built_repo(tmp_path_factory, root, data_source):
    d = tmp_path_factory.mktemp("repo")
    for rel in COPY:
        src, dst = root / rel, d / rel
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profile"] = "default"
    # AlexNet stands in for every convnet here (MI and Figure 8 teachers included): ResNet-56's test
    # evaluation alone costs a minute on 2 cores; its short runs are tested in tests/test_zoo.py.
    steps = {"unit": "steps", "length": 30, "milestones": [20], "snapshot_every": None}
    p["profiles"]["default"].update(
        datasets=["mnist", "cifar10", "multi30k"], seeds=[0], fcn_epochs=1, max_train_examples=8192,
        classifiers={"fcn": ["mnist"], "alexnet": ["cifar10"], "resnet56": [], "resnet34": [], "resnet50": []},
        schedules={"alexnet": steps | {"snapshot_every": 10}, "resnet56": steps, "resnet34": steps,
                   "resnet50": steps},
        distill_alphas=[0.0, 0.3], distill_temperatures=[1, 4], figure8_dataset=None,
        mi_dataset="cifar10", mi_model="alexnet", mi_examples_per_class=8,
        translation={"vocab_size": 400,
                     "model": {"d_model": 16, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ffn": 32},
                     "epochs": 1, "seeds": [0], "lr": 0.003, "bleu_sentences": 24, "token_sentences": 100})
    p["translation"].update(bleu_temperatures=[0.5, 1.0, 2.0], beam=2, batch_size=512,  # 57 steps an epoch, not 227
                            token_temperatures={"min": 0.5, "max": 2.0, "steps": 4})
    p["sweep"], p["alpha"] = [0.0, 0.1], 0.1
    p["data"]["val_size"] = 1000
    p["execution"]["stack"] = True   # the stages' stacked-FCN path (CUDA's default), here on the CPU
    p["project"]["examples_per_class"] = 50
    # Narrower FCNs: the stages' mechanics are under test here, not the papers' widths (tests/test_models.py)
    p["fcn"]["hidden"] = p["distill"]["teacher_hidden"] = [256, 256]
    p["distill"]["student_hidden"] = [128, 128]
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DATA_MIRROR", None)
    if data_source is not None:
        env["DATA_MIRROR"] = str(data_source)  # else: the official sources, online
    sh(["git", "init", "-q"], d, env)
    sh(["git", "add", "-A"], d, env)
    sh(["git", "commit", "-qm", "init"], d, env)
    first = sh([DVC, "repro"], d, env)
    return d, env, first


def tree_bytes(d: Path) -> dict[str, bytes]:
    """Every result file's bytes (outputs, runs, DVC's cache), resumable states left out."""
    keep = ("metrics", "plots", "models", ".dvc/cache")
    return {str(f.relative_to(d)): f.read_bytes() for top in keep for f in sorted((d / top).rglob("*"))
            if f.is_file() and "state.pt" not in f.name}

