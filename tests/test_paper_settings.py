"""Paper settings that reach a run through its configuration, each checked against a hand computation.

A wrong setting of this kind changes a reproduction's numbers without any shape changing: the loss scale,
each augmentation's parts, dropout as a drop probability, the layer order the papers fix, the optimiser
as built and its schedule at the first and last step, and clipping by the global norm.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pipeline import run_configs
from pipeline.config import load_params
from pipeline.data import inputs
from pipeline.losses import build_loss
from pipeline.models import build_model
from pipeline.training.builders import build_optimizer, build_schedule
from pipeline.training.loop import LoopSpec, fit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def p(monkeypatch):
    monkeypatch.setattr(run_configs, "_n_train", lambda p, ds: 55_000)  # MNIST's training split, without data
    return load_params(ROOT / "params.yaml")


def _hand_ce(z: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    q = F.one_hot(y, z.shape[1]).double() * (1 - alpha) + alpha / z.shape[1]
    return -(q * torch.log_softmax(z.double(), 1)).sum(1).mean()


@pytest.mark.parametrize("arch, dataset, scale", [("alexnet", "cifar10", 3.0), ("resnet56", "cifar100", 3.0),
                                                  ("fcn", "mnist", 1.0)])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_the_loss_is_cross_entropy_times_the_papers_scale_with_and_without_smoothing(p, arch, dataset, scale, alpha):
    cfg = run_configs.classifier_config(p, arch, dataset, 0, alpha)
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(16, 100, generator=g, dtype=torch.float64), torch.randint(0, 100, (16,), generator=g)
    got = build_loss(cfg["loss"])(z, y, None)
    assert torch.allclose(got, scale * _hand_ce(z, y, alpha), rtol=1e-12)


def _windows(img: torch.Tensor, size: int, pad: int) -> dict[tuple, torch.Tensor]:
    """Every (top, left, flipped) window of ``size`` of ``img`` zero-padded by ``pad``, by hand."""
    padded = torch.zeros(*img.shape[:-2], img.shape[-2] + 2 * pad, img.shape[-1] + 2 * pad, dtype=img.dtype)
    padded[..., pad:pad + img.shape[-2], pad:pad + img.shape[-1]] = img
    span = padded.shape[-1] - size + 1
    return {(t, left, flip): (w.flip(-1) if flip else w)
            for t in range(span) for left in range(span) for flip in (False, True)
            for w in [padded[..., t:t + size, left:left + size]]}


def _drawn(cfg: dict, img: torch.Tensor, size: int, pad: int, n: int = 160) -> set[tuple]:
    """Which hand-made window each of n augmented copies of ``img`` is (each must be one)."""
    out = inputs.train_batch(img.expand(n, *img.shape).clone(), cfg | {"standardize": "none"},
                             torch.Generator().manual_seed(0))
    table = _windows(img.float() / 255, size, pad)
    seen = set()
    for o in out:
        match = [k for k, w in table.items() if torch.equal(w, o)]
        assert match, "an augmented image is no window of the padded image"
        seen.add(match[0])
    return seen


def _image(shape) -> torch.Tensor:
    return torch.randint(1, 256, shape, generator=torch.Generator().manual_seed(3), dtype=torch.uint8)


def test_resnet56_pads_by_4_crops_back_and_flips(p):
    seen = _drawn(run_configs.classifier_config(p, "resnet56", "cifar100", 0, 0.0)["input"], _image((3, 32, 32)),
                  32, 4)
    assert {f for *_, f in seen} == {False, True}                       # flipped and not
    assert {t for t, _, _ in seen} == set(range(9)) == {left for _, left, _ in seen}   # every offset of ±4 px


def test_alexnet_crops_24_and_flips_for_training_and_takes_the_centre_at_test(p):
    cfg = run_configs.classifier_config(p, "alexnet", "cifar10", 0, 0.0)["input"]
    img = _image((3, 32, 32))
    seen = _drawn(cfg, img, 24, 0)
    assert {f for *_, f in seen} == {False, True} and {t for t, _, _ in seen} == set(range(9))
    centre = inputs.eval_batch(img[None], cfg | {"standardize": "none"})[0]
    assert torch.equal(centre, img[:, 4:28, 4:28].float() / 255)


def test_the_fcn_shifts_by_up_to_2_pixels_without_flipping(p):
    seen = _drawn(run_configs.classifier_config(p, "fcn", "mnist", 0, 0.0)["input"], _image((28, 28)), 28, 2)
    assert {t for t, _, _ in seen} == set(range(5)) == {left for _, left, _ in seen}   # the 25 centerings
    assert all(not f or (t, left, False) in seen for t, left, f in seen)   # a flip only where it is the same image


def test_dropout_is_a_drop_probability(p):
    torch.manual_seed(0)
    model = build_model("fcn", (28, 28), 10, {"hidden": [1200, 1200], "dropout": 0.2, "init_std": 0.03}).train()
    x = torch.rand(256, 28, 28)
    first, relu, drop = model.body[1], model.body[2], model.body[3]
    pre = relu(first(x.flatten(1)))
    out = drop(pre)
    alive = pre > 0
    dropped = (out[alive] == 0).double().mean().item()
    assert abs(dropped - 0.2) < 0.01                                  # 20 % dropped, not 80 %
    kept = out != 0
    assert torch.allclose(out[kept], pre[kept] / 0.8)                 # the survivors scaled by 1 / (1 − p)


def test_alexnet_pools_then_normalises_in_block_1_and_normalises_then_pools_in_block_2():
    torch.manual_seed(0)
    m = build_model("alexnet", (3, 24, 24), 10, {"crop": 24}).eval()
    x = torch.randn(2, 3, 24, 24)
    a = m.norm(m.pool(F.relu(m.conv1(x))))                           # TF's cifar10 tutorial: conv1, pool1, norm1
    a = m.pool(m.norm(F.relu(m.conv2(a))))                           # conv2, norm2, pool2
    a = F.relu(m.fc4(F.relu(m.fc3(a.flatten(1)))))
    assert torch.equal(m.features(x), a)


def test_resnet56_projection_shortcut_takes_the_pre_activated_input(p):
    torch.manual_seed(0)
    cfg = run_configs.classifier_config(p, "resnet56", "cifar100", 0, 0.0)
    m = build_model("resnet56", (3, 32, 32), 100, cfg["model"]).eval()
    block = next(b for b in m.modules() if getattr(b, "shortcut", None) is not None)
    x = torch.randn(2, block.bn1.num_features, 16, 16)
    pre = F.relu(block.bn1(x))
    hand = block.shortcut(pre) + block.conv2(F.relu(block.bn2(block.conv1(pre))))
    assert torch.equal(block(x), hand)


def test_the_fcn_optimiser_is_built_with_the_papers_rates_momentum_and_dampening(p):
    cfg = run_configs.classifier_config(p, "fcn", "mnist", 0, 0.0)
    model = build_model("fcn", (28, 28), 10, cfg["model"])
    opt = build_optimizer(model, cfg["optim"])
    f = p["fcn"]
    assert [g["lr"] for g in opt.param_groups] == f["lr"] == [1.0, 1.0, 0.1]
    assert {(g["momentum"], g["dampening"], g["weight_decay"]) for g in opt.param_groups} == \
        {(f["momentum"], f["dampening"], f["weight_decay"])}
    # Two SGD steps on one weight by hand: buf₁ = g₁; buf₂ = m·buf₁ + (1 − d)·g₂; w −= lr·buf.
    w = model.head.weight
    w0, m, d, lr = w.detach().clone(), f["momentum"], f["dampening"], f["lr"][2]
    g1, g2 = torch.full_like(w, 0.5), torch.full_like(w, -0.25)
    for g in (g1, g2):
        opt.zero_grad()
        w.grad = g.clone()
        opt.step()
    assert torch.allclose(w.detach(), w0 - lr * g1 - lr * (m * g1 + (1 - d) * g2), atol=1e-7)


@pytest.mark.parametrize("arch, ds, momentum, nesterov, wd, decayed, clip", [
    ("alexnet", "cifar10", 0.0, False, 0.04, ["fc3.weight", "fc4.weight"], None),   # TF tutorial: wd on fc3, fc4
    ("resnet56", "cifar100", 0.9, True, 1e-4, "all", 1.0)])                          # Müller's ResNet-56
def test_the_convnet_optimisers_are_built_as_the_papers_state(p, arch, ds, momentum, nesterov, wd, decayed, clip):
    """From the resolved run configuration: momentum, Nesterov, which parameters decay, and one SGD step by hand
    (d = g + λ·w where decayed, g elsewhere; the first step's buffer is d, so w −= lr·d, or lr·(1 + μ)·d with
    Nesterov)."""
    cfg = run_configs.classifier_config(p, arch, ds, 0, 0.1)
    model = build_model(arch, (3, 32, 32), 100 if ds == "cifar100" else 10, cfg["model"])
    opt = build_optimizer(model, cfg["optim"])
    assert cfg["optim"]["lr"] == 0.1 and cfg["clip_grad_norm"] == clip
    assert {(g["momentum"], g["nesterov"], g["dampening"]) for g in opt.param_groups} == {(momentum, nesterov, 0.0)}
    names = {id(q): n for n, q in model.named_parameters()}
    decay = {names[id(q)]: g["weight_decay"] for g in opt.param_groups for q in g["params"]}
    assert len(decay) == len(names)  # every parameter is optimised once
    want = set(names.values()) if decayed == "all" else set(decayed)
    assert {n for n, d in decay.items() if d} == want and {d for d in decay.values() if d} == {wd}
    before = {n: q.detach().clone() for n, q in model.named_parameters()}
    opt.zero_grad()
    for q in model.parameters():
        q.grad = torch.full_like(q, 0.5)
    opt.step()
    for n, q in model.named_parameters():
        lam = wd if n in want else 0.0
        step = 0.1 * (1 + momentum if nesterov else 1) * (0.5 + lam * before[n])
        assert torch.allclose(q.detach(), before[n] - step, atol=1e-7), n


def test_the_linear_schedule_starts_at_the_full_rate_and_ends_at_zero(p):
    cfg = run_configs.classifier_config(p, "fcn", "mnist", 0, 0.0)
    model = build_model("fcn", (28, 28), 10, cfg["model"])
    opt = build_optimizer(model, cfg["optim"])
    sched = build_schedule(opt, cfg["schedule"], cfg["steps"])
    n = cfg["steps"]
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == 1.0 and lrs[1] == pytest.approx(1 - 1 / n) and lrs[n - 1] == pytest.approx(1 / n)
    assert lrs[n] == 0.0


def test_the_convnet_schedules_divide_the_rate_at_mullers_steps(p):
    p["active"]["schedules"] = p["profiles"]["paper"]["schedules"]
    for arch, ds, first, at in (("alexnet", "cifar10", 0.1, (130_000, 260_000)),
                                ("resnet56", "cifar100", 0.1, (32_000, 48_000))):
        cfg = run_configs.classifier_config(p, arch, ds, 0, 0.0)
        model = build_model(arch, (3, 32, 32), 10, cfg["model"])
        factor = build_schedule(build_optimizer(model, cfg["optim"]), cfg["schedule"], cfg["steps"]).lr_lambdas[0]
        assert cfg["optim"]["lr"] == first
        assert [factor(t) for t in (0, at[0] - 1, at[0], at[1] - 1, at[1])] == \
            pytest.approx([1, 1, 0.1, 0.1, 0.01])


class _Weight(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))

    def forward(self, x):
        return self.w


def test_gradients_are_clipped_by_their_global_norm():
    model = _Weight()
    w = model.w
    opt = torch.optim.SGD([w], lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    target = torch.tensor([30.0, 40.0])                       # gradient of ½‖w − t‖² at 0: −t, norm 50

    def loss(out, _):
        return 0.5 * (out - target).pow(2).sum()
    spec = LoopSpec(steps=1, log_every=1, checkpoint_every=10, describe="clip", key="k", clip_grad_norm=1.0)
    fit(model, opt, sched, loss, lambda step, g: (torch.zeros(1), torch.zeros(1)), torch.Generator(), spec)
    assert torch.allclose(w.detach(), torch.tensor([0.6, 0.8]), atol=1e-6)   # −t/‖t‖, not each part cut to 1
