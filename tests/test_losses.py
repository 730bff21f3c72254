"""The label-smoothing loss against hand computations."""
from __future__ import annotations

import math

import pytest
import torch

from pipeline.losses import label_smoothing_ce, smoothed_targets


def test_smoothed_targets_match_the_formula():
    t = smoothed_targets(torch.tensor([1]), 4, 0.2)
    assert t[0].tolist() == pytest.approx([0.05, 0.85, 0.05, 0.05])
    assert t.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3])
def test_label_smoothing_ce_against_hand_computation(alpha):
    logits = [[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]
    targets = [0, 2]
    k = 3
    total = 0.0
    for z, t in zip(logits, targets):
        lse = math.log(sum(math.exp(v) for v in z))
        logp = [v - lse for v in z]
        y = [(1 - alpha) * (j == t) + alpha / k for j in range(k)]
        total += -sum(yj * lj for yj, lj in zip(y, logp))
    expected = total / len(logits)
    got = label_smoothing_ce(torch.tensor(logits), torch.tensor(targets), alpha).item()
    assert got == pytest.approx(expected, rel=1e-6)
    assert label_smoothing_ce(torch.tensor(logits), torch.tensor(targets), alpha, scale=3).item() == \
        pytest.approx(3 * expected, rel=1e-6)


def test_uniform_logits_cost_log_k_whatever_alpha():
    z = torch.zeros(5, 7)
    y = torch.arange(5)
    for a in (0.0, 0.5, 0.9):
        assert label_smoothing_ce(z, y, a).item() == pytest.approx(math.log(7), rel=1e-6)


def test_minimum_is_at_the_smoothed_distribution():
    """With logits = log(y_LS) the loss equals the entropy of y_LS (its minimum)."""
    alpha, k = 0.2, 5
    y = smoothed_targets(torch.tensor([2]), k, alpha)
    entropy = -(y * y.log()).sum().item()
    assert label_smoothing_ce(y.log(), torch.tensor([2]), alpha).item() == pytest.approx(entropy, rel=1e-6)
