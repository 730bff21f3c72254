"""The generic loop: interrupted runs resume exactly, divergence stops, runs are deterministic."""
from __future__ import annotations

import pytest
import torch

from pipeline.losses import label_smoothing_ce
from pipeline.models.fcn import FCN
from pipeline.training.builders import linear_decay, sgd_per_layer
from pipeline.training.loop import DivergenceError, EpochBatches, LoopSpec, fit

X = torch.rand(300, 8, 8, generator=torch.Generator().manual_seed(0))
Y = (X.mean((1, 2)) > 0.5).long() + 2 * (X[:, 0, 0] > 0.5).long()


class Interrupt(Exception):
    pass


def _train(steps=30, stop_at=None, state=None, lr=0.5, dropout=0.2, x=X, key="k1"):
    torch.manual_seed(0)
    model = FCN(64, 4, [32, 32], dropout=dropout)
    opt = sgd_per_layer(model, [lr, lr, lr / 10], 0.9, 0.9, 0.0)
    sched = linear_decay(opt, steps)
    batches = EpochBatches(len(x), 64, seed=0, device=torch.device("cpu"))

    def batch_fn(step, g):
        if step == stop_at:
            raise Interrupt
        idx = batches(step)
        return x[idx] + 0.01 * torch.randn(len(idx), 8, 8, generator=g), Y[idx]

    spec = LoopSpec(steps=steps, log_every=5, checkpoint_every=10, describe="toy run", key=key)
    hist = fit(model, opt, sched, lambda z, t: label_smoothing_ce(z, t, 0.1), batch_fn,
               torch.Generator().manual_seed(0), spec, state=state)
    return model, hist


def test_interrupted_run_resumes_to_the_identical_result(tmp_path):
    ref, ref_hist = _train()
    state = tmp_path / "state.pt"
    with pytest.raises(Interrupt):
        _train(stop_at=23, state=state)
    assert state.exists()
    resumed, hist = _train(state=state)
    for a, b in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert hist == ref_hist


def test_state_of_another_run_is_ignored(tmp_path):
    state = tmp_path / "state.pt"
    with pytest.raises(Interrupt):  # another run (another lr, so other weights) left its state in this file
        _train(stop_at=15, state=state, lr=0.05, key="k2")
    resumed_anyway, _ = _train(state=state, key="k2")  # what resuming it would give: not a fresh run
    ref, _ = _train()
    fresh, _ = _train(state=state)
    assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), fresh.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(ref.parameters(), resumed_anyway.parameters()))


def test_same_seed_is_bit_identical():
    a, ha = _train()
    b, hb = _train()
    assert ha == hb and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_nan_loss_stops_within_log_every_steps_naming_the_step():
    x = X.clone()
    x[5] = float("nan")  # the first epoch's batches reach it within a few steps
    with pytest.raises(DivergenceError, match=r"steps \d+\.\.\d+ of toy run"):
        _train(x=x)


def test_exploding_lr_is_caught():
    with pytest.raises(DivergenceError):
        _train(lr=1e12, dropout=0.0)


def test_epoch_batches_cover_every_example_once_per_epoch():
    b = EpochBatches(10, 4, seed=1, device=torch.device("cpu"))
    assert b.per_epoch == 3
    first = torch.cat([b(s) for s in range(3)])
    second = torch.cat([b(s) for s in range(3, 6)])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)


def test_saved_tensors_are_byte_identical_for_identical_content(tmp_path):
    from pipeline.io import load_tensors, save_tensors
    obj = {"x": torch.arange(10), "y": torch.ones(3)}
    save_tensors(tmp_path / "a.pt", obj)
    save_tensors(tmp_path / "b.pt", obj)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert torch.equal(load_tensors(tmp_path / "a.pt")["x"], obj["x"])
    assert not list(tmp_path.glob("*.tmp"))


def test_a_diverged_run_writes_no_metrics(tmp_path, monkeypatch, root):
    from pipeline.io import save_tensors, write_json
    from pipeline.training.run import train_run
    monkeypatch.chdir(tmp_path)
    g = torch.Generator().manual_seed(0)
    split = {f"{s}_{k}": v for s in ("train", "val", "test")
             for k, v in (("x", torch.randint(0, 256, (128, 8, 8), generator=g, dtype=torch.uint8)),
                          ("y", torch.randint(0, 4, (128,), generator=g)))}
    save_tensors(tmp_path / "data/prepared/toy.pt", split)
    write_json(tmp_path / "data/prepared/toy.json", {"num_classes": 4, "image_shape": [8, 8]})
    cfg = {"arch": "fcn", "dataset": "toy", "seed": 0, "loss": {"kind": "label_smoothing", "alpha": 0.0},
           "teacher": None, "model": {"hidden": [16], "dropout": 0.0, "init_std": 0.03},
           "optim": {"lr": [1e30, 1e30], "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.0},
           "schedule": {"kind": "linear"}, "input": {"augment": "none", "standardize": "none"},
           "batch_size": 32, "epochs": 3, "steps": 12, "max_train_examples": None}
    with pytest.raises(DivergenceError, match=r"toy fcn\[16\] alpha=0 seed=0"):
        train_run(tmp_path / "run", cfg, torch.device("cpu"), {"log_every": 2, "checkpoint_every": 4,
                                                               "eval_batch_size": 64})
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert not (tmp_path / "run" / "model.pt").exists()


def test_prune_keeps_only_the_named_entries(tmp_path):
    from pipeline.io import prune
    for name in ("keep_dir", "old_dir"):
        (tmp_path / name / "sub").mkdir(parents=True)
    (tmp_path / "keep.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    prune(tmp_path, {"keep_dir", "keep.json"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json", "keep_dir"]
    prune(tmp_path / "missing", set())  # a folder that does not exist yet is fine


def test_mean_std_over_seeds_is_the_sample_std():
    from pipeline.formulas.spread import mean_std
    assert mean_std([97.0, 98.0, 99.0], 4) == (98.0, 1.0)          # n − 1 in the denominator
    assert mean_std([0.123456], 3) == (0.123, 0.0)                  # one seed: no spread
