"""The replication's own choices as parameters (fcn.shift_draw, fcn.lr_decay, fcn.bias_init_std): each against an
independent computation, and the defaults leave every run's configuration as it was."""
from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import nn


def _shifts(out: torch.Tensor, size: int) -> list[tuple[int, int]]:
    """(dy, dx) of each image of ``out`` [B, H, W] that held one pixel at the centre."""
    idx = out.flatten(1).argmax(1)
    c = size // 2
    return [(int(i) // size - c, int(i) % size - c) for i in idx]


def _frequencies(shifts: list[tuple[int, int]]) -> dict[int, float]:
    """Per-axis frequency of each offset, both axes pooled."""
    n = Counter(d for s in shifts for d in s)
    return {d: n[d] / (2 * len(shifts)) for d in range(-3, 4)}


def test_rounded_shifts_are_torchvisions_random_affine():
    """The replication shifts with RandomAffine(0, (1/14, 1/14)) on 28 px: ours draws the same distribution."""
    from torchvision.transforms import InterpolationMode, RandomAffine

    from pipeline.data.augment import random_shift
    b, size = 20000, 28
    x = torch.zeros(b, size, size, dtype=torch.uint8)
    x[:, size // 2, size // 2] = 255
    ours = _frequencies(_shifts(random_shift(x, 2, torch.Generator().manual_seed(0), "rounded"), size))
    torch.manual_seed(0)  # torchvision draws from the global generator
    affine = RandomAffine(0, translate=(0.07143, 0.07143), interpolation=InterpolationMode.NEAREST)
    theirs = _frequencies(_shifts(torch.stack([affine(img[None])[0] for img in x[:4000]]), size))
    expected = {-3: 0, -2: 0.125, -1: 0.25, 0: 0.25, 1: 0.25, 2: 0.125, 3: 0}
    for d, p in expected.items():  # 40,000 draws: the std of a frequency is at most 0.0025; 4000 images: 0.0056
        assert abs(ours[d] - p) < 0.012 and abs(theirs[d] - p) < 0.025, (d, ours[d], theirs[d])
    uniform = _frequencies(_shifts(random_shift(x, 2, torch.Generator().manual_seed(0)), size))
    assert all(abs(uniform[d] - 0.2) < 0.012 for d in range(-2, 3))   # Müller's 25 equiprobable centerings


def test_per_epoch_decay_is_linear_lr_stepped_once_an_epoch():
    from pipeline.training.builders import build_schedule
    k, epochs = 3, 4
    w = nn.Parameter(torch.zeros(1))
    ours = torch.optim.SGD([w], lr=1.0)
    sched = build_schedule(ours, {"kind": "linear", "epoch_steps": k}, k * epochs)
    ref = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    linear = torch.optim.lr_scheduler.LinearLR(ref, start_factor=1.0, end_factor=0.0, total_iters=epochs)
    for t in range(k * epochs):
        assert abs(ours.param_groups[0]["lr"] - ref.param_groups[0]["lr"]) < 1e-12, t
        ours.step(), sched.step()
        if (t + 1) % k == 0:
            ref.step(), linear.step()
    assert ours.param_groups[0]["lr"] == 0.0
    per_step = torch.optim.SGD([w], lr=1.0)
    s2 = build_schedule(per_step, {"kind": "linear"}, k * epochs)
    per_step.step(), s2.step()
    assert abs(per_step.param_groups[0]["lr"] - (1 - 1 / (k * epochs))) < 1e-12   # the default decays every step


def test_random_biases_have_the_stated_std_and_zero_biases_stay_the_default():
    from pipeline.models.fcn import build
    torch.manual_seed(0)
    zero = build((1, 28, 28), 10, {"hidden": [1200, 1200], "dropout": 0.0, "init_std": 0.03})
    torch.manual_seed(0)
    drawn = build((1, 28, 28), 10, {"hidden": [1200, 1200], "dropout": 0.0, "init_std": 0.03, "bias_std": 0.03})
    assert all(torch.count_nonzero(m.bias) == 0 for m in zero.linear_layers())
    biases = torch.cat([m.bias.detach() for m in drawn.linear_layers()])
    assert abs(float(biases.std()) - 0.03) < 0.002 and abs(float(biases.mean())) < 0.003   # 2,410 draws
    weights = torch.cat([m.weight.detach().flatten() for m in drawn.linear_layers()])
    assert abs(float(weights.std()) - 0.03) < 0.0005


def test_the_defaults_leave_run_configs_as_they_were_and_each_choice_reaches_the_run(root, monkeypatch):
    from pipeline import run_configs
    from pipeline.config import load_params, validate
    from pipeline.run_configs import fcn_run_config
    monkeypatch.setattr(run_configs, "_n_train", lambda p, ds: 55_000)  # MNIST's training split, without data
    p = load_params(root / "params.yaml")
    cfg = fcn_run_config(p, "mnist", 0, hidden=[1200, 1200], dropout=0.0, max_shift=2, loss={"kind": "x"})
    assert "bias_std" not in cfg["model"] and "shift_draw" not in cfg["input"] and cfg["schedule"] == {"kind": "linear"}
    q = copy.deepcopy(p)
    q["fcn"] |= {"shift_draw": "rounded", "lr_decay": "per_epoch", "bias_init_std": 0.03}
    q = validate({k: v for k, v in q.items() if k != "active"})
    rep = fcn_run_config(q, "mnist", 0, hidden=[1200, 1200], dropout=0.0, max_shift=2, loss={"kind": "x"})
    assert rep["model"]["bias_std"] == 0.03 and rep["input"]["shift_draw"] == "rounded"
    assert rep["schedule"]["epoch_steps"] == 108 and rep["steps"] == cfg["steps"] == 108 * p["active"]["fcn_epochs"]
    unshifted = fcn_run_config(q, "mnist", 0, hidden=[800, 800], dropout=0.0, max_shift=0, loss={"kind": "x"})
    assert "shift_draw" not in unshifted["input"]   # a student without shifts has no draw to choose


def test_the_replications_squared_error_is_nn_mse_loss():
    from pipeline.losses import build_loss
    torch.manual_seed(0)
    z, t, y = torch.randn(16, 10), torch.randn(16, 10), torch.randint(0, 10, (16,))
    ce = nn.functional.cross_entropy(z, y)
    theirs = build_loss({"kind": "logit_regression", "ce_weight": 0.4, "regress_on": "probabilities",
                         "squared_error": "mean"})(z, y, t)
    expected = 0.4 * ce + 0.6 * nn.MSELoss()(torch.softmax(t, dim=1), z)   # the replication's code, by hand
    assert torch.allclose(theirs, expected, atol=1e-6)
    ours = build_loss({"kind": "logit_regression", "ce_weight": 0.4, "regress_on": "logits"})(z, y, t)
    assert torch.allclose(ours, 0.4 * ce + 0.6 * 0.5 * ((z - t) ** 2).sum(1).mean(), atol=1e-6)


def test_figure7s_hard_teacher_takes_the_replications_dropout_only_when_asked_and_only_at_alpha_0(root, monkeypatch):
    from pipeline import run_configs
    from pipeline.config import distill_figures, load_params, validate
    from pipeline.run_configs import sweep_teacher_config
    monkeypatch.setattr(run_configs, "_n_train", lambda p, ds: 55_000)
    p = load_params(root / "params.yaml")
    setup = distill_figures(p)["figure7"]
    assert sweep_teacher_config(p, setup, 0.0, 0)["model"]["dropout"] == 0.0  # Müller: one recipe for every α
    q = copy.deepcopy(p)
    q["distill"]["figure7"]["hard_teacher_dropout"] = 0.5
    q = validate({k: v for k, v in q.items() if k != "active"})
    hard, smooth = sweep_teacher_config(q, setup, 0.0, 0), sweep_teacher_config(q, setup, 0.15, 0)
    assert hard["model"]["dropout"] == 0.5 and smooth["model"]["dropout"] == 0.0
    assert smooth == sweep_teacher_config(p, setup, 0.15, 0)
