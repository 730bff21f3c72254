"""A real training process is killed mid-run and restarted: it resumes and ends identically."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

RUN = Path("models/classifiers/fcn/mnist/alpha_0_seed_0")


def _workdir(root: Path, dst: Path, env: dict, prepared: Path | None) -> Path:
    shutil.copytree(root / "pipeline", dst / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profile"], p["alpha"], p["sweep"] = "default", 0.0, [0.0]
    p["profiles"]["default"].update(datasets=["mnist", "multi30k"], seeds=[0], fcn_epochs=6, max_train_examples=8192,
                                    classifiers={"fcn": ["mnist"], "alexnet": [], "resnet56": [], "resnet34": [],
                                                 "resnet50": []}, mi_dataset=None, figure8_dataset=None)
    p["distill"]["dataset"] = "mnist"
    p["execution"].update(log_every=4, checkpoint_every=8)
    (dst / "params.yaml").write_text(yaml.safe_dump(p))
    if prepared is None:
        for stage in ("download", "preprocess"):
            subprocess.run([sys.executable, "-m", f"pipeline.stages.{stage}"], cwd=dst, env=env, check=True,
                           capture_output=True)
    else:
        shutil.copytree(prepared, dst / "data" / "prepared")
    return dst


@pytest.fixture(scope="module")
def env(data_source):
    e = {**os.environ, "PYTHONUNBUFFERED": "1"}
    e.pop("DATA_MIRROR", None)
    if data_source is not None:
        e["DATA_MIRROR"] = str(data_source)
    return e


def test_killed_training_resumes_to_the_same_result(tmp_path, root, env):
    ref = _workdir(root, tmp_path / "ref", env, None)
    subprocess.run([sys.executable, "-m", "pipeline.stages.train"], cwd=ref, env=env, check=True, capture_output=True)

    work = _workdir(root, tmp_path / "work", env, ref / "data" / "prepared")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.stages.train"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = work / RUN / "state.pt"
    while not state.exists() and proc.poll() is None:  # an event, not a clock: as long as the machine needs
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before its first checkpoint: make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists() and not (work / RUN / "metrics.json").exists()
    killed_at = __import__("torch").load(state, weights_only=True)["step"]
    assert 0 < killed_at < 96

    out = subprocess.run([sys.executable, "-m", "pipeline.stages.train"], cwd=work, env=env, check=True,
                         capture_output=True, text=True)
    assert "(reused)" not in out.stdout
    assert not state.exists()  # removed once the run completed
    a, b = (json.loads((d / RUN / "metrics.json").read_text()) for d in (ref, work))
    assert a["test_acc"] > 50
    assert (ref / RUN / "metrics.json").read_bytes() == (work / RUN / "metrics.json").read_bytes()
    assert (ref / RUN / "model.pt").read_bytes() == (work / RUN / "model.pt").read_bytes()
    assert (ref / RUN / "curve.json").read_text() == (work / RUN / "curve.json").read_text()
    assert (ref / "metrics/train.json").read_text() == (work / "metrics/train.json").read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_or_sigterm_during_training_is_one_line_exit_130_and_keeps_the_checkpoint(tmp_path, root, env, sig):
    # SIGTERM is what `kill`, `timeout` and a scheduler's time limit send: without a handler Python dies at once
    work = _workdir(root, tmp_path / "work", env, None)
    # SIGINT as a terminal delivers it. A process started with SIGINT ignored (a pytest-xdist worker's children)
    # would never see it, so the stage starts with the default disposition, as from a shell.
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.stages.train"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = work / RUN / "state.pt"
    while not state.exists() and proc.poll() is None:  # an event, not a clock: as long as the machine needs
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before its first checkpoint: make it longer"
    proc.send_signal(sig)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    last = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()][-1]
    assert last.startswith("interrupted: finished runs and the last checkpoint") and "resume" in last
    assert state.exists() and not (work / RUN / "metrics.json").exists()
