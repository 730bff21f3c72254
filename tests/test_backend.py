"""execution.backend: the same runs trained inline, by local workers and on a real SLURM cluster."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import torch

from pipeline.io import file_digests

CPU = torch.device("cpu")
BASE = {"log_every": 2, "checkpoint_every": 4, "eval_batch_size": 64, "device": "cpu", "precision": "fp32",
        "stack": False, "stack_max": 16, "backend": "inline", "jobs_dir": ".submitit",
        "local": {"workers": 2, "time_min": 10},
        "slurm": {"partition": None, "gpus_per_job": 0, "cpus_per_job": 1, "mem_gb": 1, "time_min": 10,
                  "array_parallelism": 8, "extra": {}}}


def cfg(seed: int, alpha: float, lr: float = 0.5, steps: int = 15) -> dict:
    return {"arch": "fcn", "dataset": "toy", "seed": seed, "loss": {"kind": "label_smoothing", "alpha": alpha},
            "teacher": None, "model": {"hidden": [16, 12], "dropout": 0.0, "init_std": 0.1},
            "optim": {"lr": [lr, lr, lr / 10], "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.0},
            "schedule": {"kind": "linear"}, "input": {"augment": "shift", "max_shift": 1, "standardize": "none"},
            "batch_size": 32, "epochs": 3, "steps": steps, "max_train_examples": None}


def sweep(folder: str) -> list:
    from pipeline.training.dispatch import Job
    return [Job(Path(folder) / f"alpha_{a:g}", cfg(s, a)) for s, a in ((0, 0.0), (1, 0.05), (2, 0.1), (3, 0.3))]


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_digests(p)["sha256"] for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".run-lock")}


def trained(jobs, execution) -> list[dict]:
    from pipeline.training.backend import train_runs
    from pipeline.training.dispatch import CLASSIFIER_TRAINER
    return train_runs(jobs, CPU, execution, CLASSIFIER_TRAINER)


def test_local_workers_train_the_same_bytes_as_inline(toy):
    inline = trained(sweep("inline"), BASE)
    local = trained(sweep("local"), BASE | {"backend": "local"})
    assert [m["key"] for m in inline] == [m["key"] for m in local]
    assert not any(m["reused"] for m in inline + local)  # the workers trained them
    assert digests(toy / "inline") == digests(toy / "local")
    assert len(digests(toy / "local")) == 4 * 5  # metrics, its seal, model, logits, curve
    assert len(list((toy / ".submitit").glob("*/*_0_log.err"))) == 2  # two worker jobs


def test_slurm_array_trains_the_same_bytes_as_inline_and_reruns_submit_nothing(toy, slurm, capsys):
    trained(sweep("inline"), BASE)
    first = trained(sweep("slurm"), BASE | {"backend": "slurm"})
    out = capsys.readouterr().out
    assert "slurm: 4 job(s) for 4 run(s)" in out and "slurm: 4 done, 0 failed" in out
    assert not any(m["reused"] for m in first) and all(m["seconds"] > 0 for m in first)
    assert digests(toy / "inline") == digests(toy / "slurm")
    again = trained(sweep("slurm"), BASE | {"backend": "slurm"})
    assert "job(s)" not in capsys.readouterr().out and [m["key"] for m in again] == [m["key"] for m in first]
    assert all(m["reused"] for m in again)


def test_a_failed_slurm_job_names_its_run_and_log_and_the_others_are_kept(toy, slurm):
    from pipeline.training.backend import BackendError
    from pipeline.training.dispatch import Job
    jobs = sweep("mixed")
    jobs[2] = Job(jobs[2].run_dir, cfg(2, 0.1, lr=1e30))  # diverges: the divergence guard stops it
    with pytest.raises(BackendError) as e:
        trained(jobs, BASE | {"backend": "slurm"})
    msg = str(e.value)
    assert "1 of 4 slurm job(s)" in msg and "mixed/alpha_0.1" in msg and "_log.err" in msg
    log = Path(msg.split("log ")[1].split(";")[0].strip())
    assert "DivergenceError" in log.read_text() or "diverg" in log.read_text().lower()
    for j in (jobs[0], jobs[1], jobs[3]):
        assert (toy / j.run_dir / "metrics.json").exists()
    # Rerun with the bug fixed: only the failed run is submitted.
    jobs[2] = sweep("mixed")[2]
    from pipeline.training.dispatch import pending_units
    assert pending_units(jobs, CPU, BASE | {"backend": "slurm"}) == [[2]]
    trained(jobs, BASE | {"backend": "slurm"})
    assert (toy / "mixed/alpha_0.1/metrics.json").exists()


def test_interrupting_the_stage_cancels_its_slurm_jobs(toy, slurm, monkeypatch, capsys):
    from pipeline.training import backend
    from pipeline.training.dispatch import Job
    calls = []

    def interrupt(seconds):
        calls.append(seconds)
        raise KeyboardInterrupt
    monkeypatch.setattr(backend.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        trained([Job(Path("cut/long"), cfg(0, 0.0, steps=100_000))], BASE | {"backend": "slurm"})
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert calls and "slurm: interrupted; cancelled 1 job(s)" in err
    deadline = time.time() + 120  # a bound for a slow or busy machine, not a speed check
    while time.time() < deadline:
        q = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
        assert q.returncode == 0, q.stderr
        if not q.stdout.split():
            break
        time.sleep(0.5)
    assert not q.stdout.split()  # this test cluster runs nothing else


def translations(folder: str) -> list:
    """Two tiny Transformers (α = 0 and 0.1) on a synthetic tokenised corpus written by ``corpus``."""
    from pipeline.training.backend import Job
    model = {"d_model": 16, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ffn": 32, "dropout": 0.0,
             "init": "xavier", "src_vocab": 12}
    return [Job(Path(folder) / f"alpha_{a:g}", {
        "arch": "transformer", "dataset": "multi30k", "alpha": a, "seed": s, "epochs": 2, "steps": 8,
        "batch_size": 8, "eval_batch_size": 16, "model": model, "tgt_vocab": 12,
        "optim": {"lr": 0.003, "betas": [0.9, 0.98], "eps": 1e-9}}) for s, a in ((0, 0.0), (1, 0.1))]


@pytest.fixture
def corpus(toy):
    from pipeline.io import save_tensors
    from pipeline.text.batches import pack
    g = torch.Generator().manual_seed(0)

    def split(n):
        src = [torch.randint(4, 12, (int(k),), generator=g).tolist() for k in torch.randint(2, 7, (n,), generator=g)]
        return {"src": pack(src, bos=False), "tgt": pack([s[::-1] for s in src], bos=True)}  # reverse the source
    save_tensors(toy / "data/tokenized/multi30k.pt", {"train": split(32), "val": split(16), "test": split(16)})
    return toy


def translated(jobs, execution) -> list[dict]:
    from pipeline.text.translation_run import TRANSLATION_TRAINER
    from pipeline.training.backend import train_runs
    return train_runs(jobs, CPU, execution, TRANSLATION_TRAINER)


def test_transformers_on_local_workers_are_the_inline_bytes(corpus):
    inline = translated(translations("t_inline"), BASE)
    local = translated(translations("t_local"), BASE | {"backend": "local"})
    assert [m["key"] for m in inline] == [m["key"] for m in local] and not any(m["reused"] for m in inline + local)
    assert digests(corpus / "t_inline") == digests(corpus / "t_local")
    assert len(digests(corpus / "t_local")) == 2 * 4  # metrics, its seal, model, curve


def test_transformers_train_as_a_slurm_array_and_a_rerun_submits_nothing(corpus, slurm, capsys):
    from pipeline.text.translation_run import pending
    translated(translations("t_inline"), BASE)
    first = translated(translations("t_slurm"), BASE | {"backend": "slurm"})
    out = capsys.readouterr().out
    assert "slurm: 2 job(s) for 2 run(s)" in out and "slurm: 2 done, 0 failed" in out
    assert not any(m["reused"] for m in first) and digests(corpus / "t_inline") == digests(corpus / "t_slurm")
    assert pending(translations("t_slurm"), CPU, BASE) == []
    (corpus / "t_slurm/alpha_0.1/metrics.json").write_text("{")  # cut short by a crash: trained again
    assert pending(translations("t_slurm"), CPU, BASE) == [[1]]
    again = translated(translations("t_slurm"), BASE | {"backend": "slurm"})
    assert "slurm: 1 job(s) for 1 run(s)" in capsys.readouterr().out
    assert [m["reused"] for m in again] == [True, False]  # the damaged one trained again by the array's job
    assert digests(corpus / "t_inline") == digests(corpus / "t_slurm")


def test_stage_device_under_slurm_is_the_nodes_not_the_login_nodes():
    from pipeline.training.backend import local_device, stage_device
    s = BASE | {"backend": "slurm", "device": "auto"}
    assert stage_device(s).type == "cpu"  # gpus_per_job 0
    assert stage_device(s | {"slurm": BASE["slurm"] | {"gpus_per_job": 1}}).type == "cuda"
    assert local_device(s).type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_params_accept_the_backends_and_refuse_unknown_ones(tmp_path):
    import yaml

    from pipeline.config import ParamError, load_params, validate
    root = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((root / "params.yaml").read_text())
    assert validate(raw)["execution"]["backend"] == "inline"
    for bad in ({"backend": "kubernetes"}, {"slurm": raw["execution"]["slurm"] | {"extra": {"account": True}}},
                {"local": {"workers": 0, "time_min": 10}}):
        with pytest.raises(ParamError):
            validate(raw | {"execution": raw["execution"] | bad})
    # device cuda is fine on a login node without CUDA when the runs go to SLURM
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw | {"execution": raw["execution"] | {"backend": "slurm", "device": "cuda"}}))
    assert load_params(p)["execution"]["device"] == "cuda"


def test_the_training_stages_on_slurm_stay_dvc_stages_and_resubmit_only_what_is_missing(tmp_path, slurm, root,
                                                                                          mirror):
    """`dvc repro train train_translation` with execution.backend slurm: each stage submits its runs as an
    array (FCNs, then Transformers), writes its outputs; unchanged, dvc skips them; a run folder removed by
    hand is the only run submitted again (for the Transformers: test_transformers_train_as_a_slurm_array…)."""
    import os
    import shutil
    import sys

    import yaml
    d = tmp_path / "repo"
    for rel in ("pipeline", "dvc.yaml", ".dvc/config", ".dvcignore", ".gitignore"):
        src, dst = root / rel, d / rel
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profile"] = "smoke"  # FCNs for 8 steps on 4,096 images
    p["profiles"]["smoke"]["classifiers"]["fcn"] = ["mnist"]
    p["sweep"], p["alpha"] = [0.0], 0.1  # two runs of each kind: α = 0 and 0.1
    p["execution"] |= {"backend": "slurm", "slurm": BASE["slurm"]}
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    dvc = str(Path(sys.executable).with_name("dvc"))
    env = {**os.environ, "DATA_MIRROR": str(mirror), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def repro() -> str:
        r = subprocess.run([dvc, "repro", "train", "train_translation"], cwd=d, env=env, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        return r.stdout
    subprocess.run(["git", "init", "-q"], cwd=d, env=env, check=True)
    first = repro()
    # train: two FCNs; train_translation: two Transformers (α = 0 and 0.1), each stage one array
    assert first.count("slurm: 2 job(s) for 2 run(s)") == 2 and first.count("slurm: 2 done, 0 failed") == 2
    assert "(reused)" not in first  # trained by the array's jobs, reported with their time
    assert len(list((d / "models/classifiers/fcn/mnist").glob("*/metrics.json"))) == 2
    assert len(list((d / "models/translation").glob("*/metrics.json"))) == 2
    assert (d / "metrics/train.json").exists() and (d / "metrics/translation_train.json").exists()
    again = repro()
    assert "job(s)" not in again and again.count("didn't change") >= 2
    shutil.rmtree(d / "models/classifiers/fcn/mnist/alpha_0.1_seed_0")  # (the Transformers' resubmission: above)
    third = repro()
    assert "slurm: 1 job(s) for 1 run(s)" in third and third.count("(reused)") == 1  # α = 0 reused


def test_a_truncated_state_or_metrics_file_is_set_aside_and_the_run_trains_again_identically(toy, monkeypatch,
                                                                                              capsys):
    """A crash mid-write on a filesystem without atomic renames leaves a cut-short state.pt or metrics.json:
    the rerun names the file in one line, sets a state aside, and trains the bytes of an untroubled run."""
    from pipeline.training import run
    from pipeline.training.dispatch import Job
    clean = trained([Job(Path("clean"), cfg(0, 0.1))], BASE)
    job = Job(Path("cut"), cfg(0, 0.1))

    def crash(*a, **k):
        raise SystemExit("killed after the last checkpoint")
    with monkeypatch.context() as m, pytest.raises(SystemExit):  # (the fixture's chdir stays)
        m.setattr(run, "save_run", crash)
        trained([job], BASE)
    state = toy / "cut/state.pt"
    state.write_bytes(state.read_bytes()[:len(state.read_bytes()) // 2])
    capsys.readouterr()
    again = trained([job], BASE)
    out = capsys.readouterr().out
    assert "cut/state.pt is damaged" in out and (toy / "cut.state.pt.damaged").exists()
    assert again[0]["key"] == clean[0]["key"] and digests(toy / "clean") == digests(toy / "cut")
    (toy / "cut/metrics.json").write_text('{"key": ')  # a finished run's metrics cut short
    third = trained([job], BASE)
    assert "metrics.json is damaged" in capsys.readouterr().out and not third[0]["reused"]
    assert digests(toy / "clean") == digests(toy / "cut")


def test_a_transformer_whose_metrics_were_cut_short_trains_again_identically(corpus, capsys):
    first = translated(translations("t"), BASE)
    (corpus / "t/alpha_0/metrics.json").write_text("{")
    again = translated(translations("t"), BASE)
    assert "metrics.json is damaged" in capsys.readouterr().out
    assert [m["reused"] for m in again] == [False, True] and again[0]["key"] == first[0]["key"]
    assert again[0]["test"] == first[0]["test"]


@pytest.mark.parametrize("edit, why", [(lambda a: a + 100, "test_acc out of range"),
                                       (lambda a: a + 1, "sha256 differs")])
def test_a_finished_runs_metrics_changed_by_hand_are_not_reused(toy, capsys, edit, why):
    """metrics.json holds the other files' digests; its own is sealed beside it when the run finishes, and
    its accuracies are range-checked: a changed digit retrains the run instead of reaching the tables."""
    import json

    from pipeline.training.backend import finished
    from pipeline.training.dispatch import Job
    job = Job(Path("run"), cfg(0, 0.1))
    clean = trained([job], BASE)[0]
    assert finished(job, CPU, BASE)
    done = toy / "run/metrics.json"
    m = json.loads(done.read_text())
    done.write_text(json.dumps(m | {"test_acc": edit(m["test_acc"])}))
    if "range" in why:  # a run finished before seals existed: its ranges still hold it
        (toy / "run/.metrics.sha256").unlink()
    assert not finished(job, CPU, BASE)  # what a backend submits
    capsys.readouterr()
    again = trained([job], BASE)[0]
    assert why in capsys.readouterr().out and not again["reused"] and again["test_acc"] == clean["test_acc"]

