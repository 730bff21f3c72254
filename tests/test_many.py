"""train_runs: stacked FCN runs are the runs they would be alone, resume, and fail loudly."""
from __future__ import annotations

import pytest
import torch

from pipeline.training.loop import DivergenceError

CPU = torch.device("cpu")
BASE = {"log_every": 2, "checkpoint_every": 4, "eval_batch_size": 64}
STACK = BASE | {"stack": True, "stack_max": 16}


def cfg(seed: int, loss: dict, teacher=None, hidden=(16, 12), dropout=0.0, lr=(0.5, 0.5, 0.05)) -> dict:
    return {"arch": "fcn", "dataset": "toy", "seed": seed, "loss": loss, "teacher": teacher,
            "model": {"hidden": list(hidden), "dropout": dropout, "init_std": 0.1},
            "optim": {"lr": list(lr), "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.0},
            "schedule": {"kind": "linear"}, "input": {"augment": "shift", "max_shift": 1, "standardize": "none"},
            "batch_size": 32, "epochs": 3, "steps": 15, "max_train_examples": None}


def ls(alpha: float) -> dict:
    return {"kind": "label_smoothing", "alpha": alpha}


def jobs_with_teacher(root):
    """Three label-smoothing runs and three students of one teacher (soft targets, logit regression)."""
    from pipeline.io import read_json
    from pipeline.training.dispatch import Job
    from pipeline.training.run import train_run
    train_run(root / "teacher", cfg(9, ls(0.0), hidden=(24, 24)), CPU, BASE)
    tkey = read_json(root / "teacher/metrics.json")["key"]
    return [Job(root / "a0", cfg(0, ls(0.0))), Job(root / "a1", cfg(1, ls(0.1))), Job(root / "a3", cfg(2, ls(0.3))),
            Job(root / "t1", cfg(0, {"kind": "soft_targets", "beta": 0.6, "temperature": 1.0}, tkey), root / "teacher"),
            Job(root / "t4", cfg(0, {"kind": "soft_targets", "beta": 0.6, "temperature": 4.0}, tkey), root / "teacher"),
            Job(root / "lr", cfg(3, {"kind": "logit_regression", "ce_weight": 0.4, "regress_on": "logits"}, tkey),
                root / "teacher")]


def moved(job, root, name):
    from pipeline.training.dispatch import Job
    return Job(root / name / job.run_dir.name, job.cfg, job.teacher_dir)


def test_stacked_runs_are_the_runs_trained_alone(toy):
    from pipeline.io import load_tensors, read_json
    from pipeline.training.dispatch import train_inline
    jobs = jobs_with_teacher(toy)
    alone = train_inline([moved(j, toy, "alone") for j in jobs], CPU, BASE)
    stacked = train_inline([moved(j, toy, "stacked") for j in jobs], CPU, STACK)
    assert [m["execution"]["stack"] for m in alone] == [False] * 6
    assert [m["execution"]["stack"] for m in stacked] == [True] * 6
    assert [m["stacked_with"] for m in stacked] == [6] * 6          # one shape: one group
    assert not {m["key"] for m in alone} & {m["key"] for m in stacked}  # how a run executes is in its key
    for j, a, s in zip(jobs, alone, stacked):
        wa = load_tensors(toy / "alone" / j.run_dir.name / "model.pt")
        ws = load_tensors(toy / "stacked" / j.run_dir.name / "model.pt")
        assert wa.keys() == ws.keys()
        for k in wa:  # the same run: only the batched matmul's summation order differs
            torch.testing.assert_close(ws[k], wa[k], rtol=1e-4, atol=1e-5)
        ca = read_json(toy / "alone" / j.run_dir.name / "curve.json")
        cs = read_json(toy / "stacked" / j.run_dir.name / "curve.json")
        assert [r["step"] for r in ca] == [r["step"] for r in cs]
        assert all(abs(x["loss"] - y["loss"]) < 1e-4 for x, y in zip(ca, cs))   # each member's own loss
        assert abs(a["test_acc"] - s["test_acc"]) < 1.0 and abs(a["test_nll"] - s["test_nll"]) < 1e-3
    assert len({round(m["final_train_loss"], 6) for m in stacked}) == 6         # six different runs
    again = train_inline([moved(j, toy, "stacked") for j in jobs], CPU, STACK)
    assert all(m["reused"] for m in again)


def test_a_member_is_the_same_in_any_group(toy):
    """Grouping depends on which runs are pending; a member's result must not (CPU: bit for bit)."""
    from pipeline.io import load_tensors
    from pipeline.training.dispatch import Job, train_inline
    jobs = [Job(toy / "g" / f"a{a}", cfg(s, ls(a))) for s, a in enumerate((0.0, 0.1, 0.3))]
    together = train_inline(jobs, CPU, STACK)
    alone = train_inline([Job(toy / "one" / "a0.1", jobs[1].cfg)], CPU, STACK)
    pairs = train_inline([Job(toy / "two" / j.run_dir.name, j.cfg) for j in jobs[:2]], CPU, STACK | {"stack_max": 1})
    assert alone[0]["stacked_with"] == 1 and [m["stacked_with"] for m in pairs] == [1, 1]
    assert alone[0]["key"] == together[1]["key"]
    w3, w1 = load_tensors(toy / "g/a0.1/model.pt"), load_tensors(toy / "one/a0.1/model.pt")
    assert all(torch.equal(w3[k], w1[k]) for k in w3)
    assert pairs[0]["test_acc"] == together[0]["test_acc"]


def test_an_interrupted_stacked_group_resumes_to_the_uninterrupted_result(toy, monkeypatch):
    from pipeline.io import load_tensors
    from pipeline.training import loop
    from pipeline.training.dispatch import Job, train_inline
    jobs = [Job(toy / "ref" / f"s{s}", cfg(s, ls(0.1 * s))) for s in range(3)]
    train_inline(jobs, CPU, STACK)
    run = [Job(toy / "run" / j.run_dir.name, j.cfg) for j in jobs]
    calls = loop.EpochBatches.__call__

    def interrupt(self, step):
        if step == 6:
            raise KeyboardInterrupt
        return calls(self, step)
    monkeypatch.setattr(loop.EpochBatches, "__call__", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_inline(run, CPU, STACK)
    monkeypatch.setattr(loop.EpochBatches, "__call__", calls)
    for j in run:  # each member's state, in the single-run layout, at the last checkpoint
        s = load_tensors(j.run_dir / "state.pt")
        assert s["step"] == 4 and set(s["model"]) == {"body.1.weight", "body.1.bias", "body.3.weight",
                                                      "body.3.bias", "head.weight", "head.bias"}
        assert all(isinstance(r["loss"], float) for r in s["history"])
    # Resumed in other groups: s0 alone first, then s1 and s2 together.
    train_inline(run[:1], CPU, STACK)
    resumed = train_inline(run, CPU, STACK)
    assert [m["reused"] for m in resumed] == [True, False, False] and resumed[1]["stacked_with"] == 2
    for j, r in zip(jobs, run):
        a, b = load_tensors(j.run_dir / "model.pt"), load_tensors(r.run_dir / "model.pt")
        assert all(torch.equal(a[k], b[k]) for k in a), j.run_dir.name
        assert not (r.run_dir / "state.pt").exists()


def test_runs_that_cannot_stack_train_alone_and_divergence_names_the_stacked_runs(toy):
    from pipeline.training.dispatch import Job, train_inline
    mixed = train_inline([Job(toy / "d", cfg(0, ls(0.0), dropout=0.5)), Job(toy / "w", cfg(0, ls(0.0), hidden=(8, 8))),
                        Job(toy / "n", cfg(0, ls(0.0)))], CPU, STACK)
    assert mixed[0]["execution"]["stack"] is False and "stacked_with" not in mixed[0]   # dropout: alone
    assert mixed[1]["stacked_with"] == 1 and mixed[2]["stacked_with"] == 1             # two shapes, two groups
    bad = [Job(toy / "x" / f"s{s}", cfg(s, ls(0.1), lr=(1e30, 1e30, 1e30))) for s in range(2)]
    with pytest.raises(DivergenceError, match=r"stacked runs \[0, 1\].*1: toy fcn\[16, 12\] alpha=0.1 seed=1"):
        train_inline(bad, CPU, STACK)
    assert not any((j.run_dir / "metrics.json").exists() for j in bad)


def alexnet_cfg(seed: int, alpha: float) -> dict:
    """Müller's AlexNet settings (momentum 0, weight decay on fc3/fc4, CE × 3) on 32×32 toy images."""
    return {"arch": "alexnet", "dataset": "rgb", "seed": seed, "loss": {"kind": "label_smoothing", "alpha": alpha,
                                                                        "scale": 3.0},
            "teacher": None, "model": {"crop": 24},
            "optim": {"lr": 0.05, "momentum": 0.0, "nesterov": False, "weight_decay": 0.04, "decay_on": "model"},
            "schedule": {"kind": "multistep", "milestones": [4], "gamma": 0.1},
            "input": {"augment": "crop_flip", "crop": 24, "standardize": "per_image"},
            "batch_size": 16, "steps": 6, "clip_grad_norm": None, "snapshot_every": None, "max_train_examples": None}


def test_stacked_alexnets_are_the_runs_trained_alone(toy):
    from pipeline.io import load_tensors, save_tensors, write_json
    from pipeline.training.dispatch import Job, train_inline
    g = torch.Generator().manual_seed(1)
    save_tensors(toy / "data/prepared/rgb.pt",
                 {f"{s}_{k}": v for s in ("train", "val", "test")
                  for k, v in (("x", torch.randint(0, 256, (48, 3, 32, 32), generator=g, dtype=torch.uint8)),
                               ("y", torch.randint(0, 10, (48,), generator=g)))})
    write_json(toy / "data/prepared/rgb.json", {"num_classes": 10, "image_shape": [3, 32, 32]})
    cfgs = [alexnet_cfg(0, 0.0), alexnet_cfg(1, 0.1), alexnet_cfg(2, 0.3)]
    alone = train_inline([Job(toy / "alone" / str(i), c) for i, c in enumerate(cfgs)], CPU, BASE)
    stacked = train_inline([Job(toy / "stacked" / str(i), c) for i, c in enumerate(cfgs)], CPU,
                         STACK | {"channels_last": True})
    assert [m["stacked_with"] for m in stacked] == [3, 3, 3] and "stacked_with" not in alone[0]
    assert stacked[0]["execution"]["channels_last"] is True
    for i, (a, s) in enumerate(zip(alone, stacked)):
        wa, ws = load_tensors(toy / "alone" / str(i) / "model.pt"), load_tensors(toy / "stacked" / str(i) / "model.pt")
        for k in wa:  # grouped convolutions: the same run up to float summation order
            torch.testing.assert_close(ws[k], wa[k], rtol=1e-3, atol=1e-4)
        assert abs(a["final_train_loss"] - s["final_train_loss"]) < 1e-3


def test_a_resumable_member_is_not_grouped_with_fresh_runs(toy, monkeypatch):
    """Runs stack only with runs at the same start step: a member with a checkpoint at step 4 resumes there in
    its own group, and is not restarted from step 0 beside a fresh run (which would discard its work)."""
    from pipeline.io import load_tensors
    from pipeline.training import loop
    from pipeline.training.dispatch import Job, train_inline
    ref = train_inline([Job(toy / "ref" / "s1", cfg(1, ls(0.1)))], CPU, STACK)[0]
    run = [Job(toy / "run" / "s1", cfg(1, ls(0.1))), Job(toy / "run" / "s2", cfg(2, ls(0.2)))]
    calls = loop.EpochBatches.__call__
    seen: list[int] = []

    def interrupt(self, step):
        if step == 6:
            raise KeyboardInterrupt
        return calls(self, step)

    def count(self, step):
        seen.append(step)
        return calls(self, step)
    monkeypatch.setattr(loop.EpochBatches, "__call__", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_inline(run[:1], CPU, STACK)
    assert load_tensors(run[0].run_dir / "state.pt")["step"] == 4
    monkeypatch.setattr(loop.EpochBatches, "__call__", count)
    out = train_inline(run, CPU, STACK)
    assert [m["stacked_with"] for m in out] == [1, 1]      # two start steps, two groups
    assert sum(s < 4 for s in seen) == 4                   # steps 0-3 drawn once: by the fresh run only
    a, b = load_tensors(toy / "ref/s1/model.pt"), load_tensors(run[0].run_dir / "model.pt")
    assert out[0]["key"] == ref["key"] and all(torch.equal(a[k], b[k]) for k in a)
