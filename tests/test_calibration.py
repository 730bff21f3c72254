"""ECE and temperature scaling against hand-worked cases and independent implementations."""
from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from pipeline.formulas.reliability import (
    CalibrationError,
    bin_index,
    ece,
    ece_from_logits,
    ece_optimal_temperature,
    fit_temperature,
    nll,
    reliability_bins,
    top_label,
)


def slow_ece(conf: list[float], correct: list[float], n_bins: int = 15) -> float:
    """Loop implementation of the documented convention: bins (l, u], the first also holds 0."""
    edges = [b / n_bins for b in range(n_bins + 1)]
    total = 0.0
    for b in range(n_bins):
        lo, hi = edges[b], edges[b + 1]
        members = [i for i, c in enumerate(conf) if (lo < c <= hi) or (b == 0 and c == 0)]
        if members:
            acc = sum(correct[i] for i in members) / len(members)
            mean_conf = sum(conf[i] for i in members) / len(members)
            total += len(members) / len(conf) * abs(acc - mean_conf)
    return total


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def test_all_correct_all_wrong_and_single_bin_by_hand():
    assert ece(t([0.95] * 4), t([1.0] * 4)) == pytest.approx(0.05)
    assert ece(t([0.6] * 3), t([0.0] * 3)) == pytest.approx(0.6)
    # one bin, (0.8, 0.8667]: accuracy 0.75, mean confidence 0.825
    assert ece(t([0.81, 0.82, 0.83, 0.84]), t([1, 1, 0, 1])) == pytest.approx(0.075)
    # two bins: |1 - 0.3|·(1/3) + |0.5 - 0.9|·(2/3)
    assert ece(t([0.3, 0.9, 0.9]), t([1, 1, 0])) == pytest.approx(0.7 / 3 + 0.4 * 2 / 3)
    assert ece(t([0.5, 0.5]), t([1, 0])) == pytest.approx(0.0)  # perfectly calibrated bin


def test_bin_edges_follow_the_documented_convention():
    edges = torch.linspace(0, 1, 16, dtype=torch.float64)
    assert bin_index(t([1.0])).item() == 14                    # exactly 1.0: last bin
    assert bin_index(t([0.0])).item() == 0                     # 0: first bin
    assert bin_index(edges[3:4]).item() == 2                   # on an edge: the lower bin
    assert bin_index(edges[3:4] + 1e-12).item() == 3
    assert bin_index(edges[14:15]).item() == 13
    for c in [0.0, 1.0, edges[3].item(), edges[7].item(), 0.5, 0.999999]:
        assert ece(t([c]), t([1.0])) == pytest.approx(slow_ece([c], [1.0]))


def test_vectorised_ece_matches_the_slow_loop_on_random_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2000, 10, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, 10, (2000,), generator=g)
    conf, correct = top_label(logits, labels)
    assert ece(conf, correct) == pytest.approx(slow_ece(conf.tolist(), correct.tolist()), abs=1e-12)


def test_ece_matches_torchmetrics_on_random_logits():
    g = torch.Generator().manual_seed(1)
    for scale in (0.5, 2.0, 8.0):
        logits = torch.randn(5000, 10, generator=g) * scale
        labels = torch.randint(0, 10, (5000,), generator=g)
        probs = torch.softmax(logits.double(), -1)
        conf = probs.max(-1).values
        edges = torch.linspace(0, 1, 16, dtype=torch.float64)
        assert not torch.isin(conf, edges).any()  # no tie with an edge: conventions agree
        theirs = multiclass_calibration_error(probs, labels, num_classes=10, n_bins=15, norm="l1").item()
        assert ece_from_logits(logits, labels) == pytest.approx(theirs, abs=1e-6)  # theirs is float32


def test_torchmetrics_differs_only_by_its_bin_convention():
    """A wrong prediction with confidence exactly 1.0 and a right one at 0.94.

    Here both share the last bin (14/15, 1]: ECE = |0.5 − 0.97| = 0.47. torchmetrics
    puts 1.0 in a bin of its own: ½·|0 − 1| + ½·|1 − 0.94| = 0.53.
    """
    probs = t([[1.0, 0.0], [0.94, 0.06]])
    labels = torch.tensor([1, 0])
    ours = ece(*top_label(probs.log(), labels))
    theirs = multiclass_calibration_error(probs, labels, num_classes=2, n_bins=15, norm="l1").item()
    assert ours == pytest.approx(0.47) and theirs == pytest.approx(0.53)


def test_reliability_bins_agree_with_ece():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(1000, 5, generator=g) * 2
    labels = torch.randint(0, 5, (1000,), generator=g)
    conf, correct = top_label(logits, labels)
    b = reliability_bins(conf, correct)
    full = b["count"] > 0
    recon = (b["count"][full] / 1000 * (b["accuracy"][full] - b["confidence"][full]).abs()).sum().item()
    assert recon == pytest.approx(ece(conf, correct), abs=1e-12)
    assert b["count"].sum().item() == 1000
    assert ((b["confidence"][full] > b["lower"][full]) & (b["confidence"][full] <= b["upper"][full])).all()


def _calibrated_sample(true_t: float, n: int, seed: int):
    """Labels drawn from softmax(z / true_t): dividing z by true_t makes them calibrated."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=g, dtype=torch.float64) * 4
    y = torch.multinomial(torch.softmax(z / true_t, -1), 1, generator=g).squeeze(1)
    return z, y


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fitted_temperature_recovers_the_generating_one(true_t):
    z, y = _calibrated_sample(true_t, 40_000, seed=3)
    fit = fit_temperature(z, y)
    assert fit.temperature == pytest.approx(true_t, rel=0.03)
    assert abs(fit.grad) < 1e-6
    assert fit.nll_after <= fit.nll_before + 1e-12
    assert ece_from_logits(z, y, fit.temperature) < 0.01


def test_fit_agrees_with_a_fine_grid_search():
    z, y = _calibrated_sample(1.7, 2000, seed=4)
    fit = fit_temperature(z, y)
    grid = torch.arange(1.0, 2.6, 0.0005, dtype=torch.float64)  # independent: brute force, vectorised
    scaled = z.unsqueeze(0) / grid[:, None, None]
    nlls = (torch.logsumexp(scaled, -1) - scaled.gather(-1, y.expand(len(grid), -1)[..., None]).squeeze(-1))
    best = grid[nlls.mean(1).argmin()].item()
    assert fit.temperature == pytest.approx(best, abs=0.002)
    assert fit.nll_after == pytest.approx(nll(z, y, fit.temperature))


def test_temperature_divides_the_logits():
    z = t([[2.0, 0.0]])
    conf, _ = top_label(z, torch.tensor([0]), temperature=2.0)
    assert conf.item() == pytest.approx(math.exp(1) / (math.exp(1) + 1))


def test_fit_fails_loudly_when_there_is_no_minimum():
    # every example right by a wide margin: NLL keeps falling as T -> 0
    z = t([[10.0, 0.0], [0.0, 10.0], [12.0, 1.0]])
    y = torch.tensor([0, 1, 0])
    with pytest.raises(CalibrationError, match="did not converge"):
        fit_temperature(z, y)


def test_ece_optimal_grid_temperature():
    z, y = _calibrated_sample(2.0, 20_000, seed=5)
    grid = [1.0, 1.5, 2.0, 2.5, 3.0]
    assert ece_optimal_temperature(z, y, grid) == 2.0
