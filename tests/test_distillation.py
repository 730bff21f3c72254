"""γ and the distillation losses against hand computations."""
from __future__ import annotations

import math

import pytest
import torch

from pipeline.formulas.smoothness import smoothness_index
from pipeline.losses import distill_logit_regression, distill_soft_targets, smoothed_targets


def test_gamma_by_hand():
    # K = 3; teacher probabilities (T=1) from these logits
    z = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    y = torch.tensor([0, 1])
    p = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in z.tolist()]
    off = [1 - p[0][0], 1 - p[1][1]]
    expected = sum(off) / 2 * 3 / 2
    assert smoothness_index(z, y) == pytest.approx(expected, rel=1e-12)
    # temperature divides the logits
    zt = (z / 4).tolist()
    pt = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in zt]
    assert smoothness_index(z, y, 4.0) == pytest.approx(((1 - pt[0][0]) + (1 - pt[1][1])) / 2 * 1.5)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3, 0.75])
def test_gamma_equals_alpha_for_a_teacher_that_outputs_the_smoothed_label(alpha):
    k = 10
    y = torch.arange(50) % k
    target = torch.nn.functional.one_hot(y, k).double() * (1 - alpha) + alpha / k   # float64 y_LS
    assert torch.allclose(target, smoothed_targets(y, k, alpha).double())
    logits = target.clamp_min(1e-300).log()
    assert smoothness_index(logits, y) == pytest.approx(alpha, abs=1e-12)


def test_gamma_grows_with_temperature_towards_one():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 10, generator=g) * 5
    y = z.argmax(1)
    gammas = [smoothness_index(z, y, t) for t in (1, 2, 4, 16, 1e6)]
    assert all(a < b for a, b in zip(gammas, gammas[1:]))
    assert gammas[-1] == pytest.approx(1.0, abs=1e-5)   # uniform teacher


def test_logit_regression_loss_by_hand():
    zs = torch.tensor([[1.0, 0.0], [0.5, 2.0]])
    zt = torch.tensor([[3.0, -1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    ce = sum(-(row[t] - math.log(sum(math.exp(v) for v in row))) for row, t in zip(zs.tolist(), y.tolist())) / 2
    mse = (0.5 * ((1 - 3) ** 2 + (0 + 1) ** 2) + 0.5 * ((0.5 - 0) ** 2 + (2 - 1) ** 2)) / 2
    assert distill_logit_regression(zs, zt, y, 0.4).item() == pytest.approx(0.4 * ce + 0.6 * mse, rel=1e-6)
    # the replication's variant regresses onto the teacher's probabilities instead
    pt = torch.softmax(zt, 1).tolist()
    mse_p = sum(0.5 * sum((a - b) ** 2 for a, b in zip(s, t)) for s, t in zip(zs.tolist(), pt)) / 2
    got = distill_logit_regression(zs, zt, y, 0.4, regress_on="probabilities").item()
    assert got == pytest.approx(0.4 * ce + 0.6 * mse_p, rel=1e-6)
    with pytest.raises(ValueError):
        distill_logit_regression(zs, zt, y, 0.4, regress_on="labels")


def test_soft_target_loss_by_hand():
    zs = torch.tensor([[1.0, 0.0, -1.0]])
    zt = torch.tensor([[4.0, 2.0, 0.0]])
    y = torch.tensor([1])
    lq = [v - math.log(sum(math.exp(u) for u in zs[0].tolist())) for v in zs[0].tolist()]
    pt = [math.exp(v / 2) / sum(math.exp(u / 2) for u in zt[0].tolist()) for v in zt[0].tolist()]
    expected = 0.25 * -lq[1] + 0.75 * -sum(p * q for p, q in zip(pt, lq))
    assert distill_soft_targets(zs, zt, y, beta=0.75, temperature=2.0).item() == pytest.approx(expected, rel=1e-6)
    # beta = 0 is plain cross-entropy; beta = 1 ignores the labels
    assert distill_soft_targets(zs, zt, y, 0.0, 2.0).item() == pytest.approx(-lq[1], rel=1e-6)
    assert distill_soft_targets(zs, zt, torch.tensor([0]), 1.0, 2.0).item() == pytest.approx(
        distill_soft_targets(zs, zt, torch.tensor([2]), 1.0, 2.0).item())
