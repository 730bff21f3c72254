"""Müller's MI estimator on synthetic Gaussians with known or bounded answers, and a slow twin."""
from __future__ import annotations

import math

import pytest
import torch

from pipeline.formulas.mi_estimator import mi_estimate


def slow_mi(draws: list[list[float]], evaluated: list[float] | None, pool: str) -> float:
    """Independent, loop-by-loop implementation of the documented formula."""
    n, L = len(draws), len(draws[0])
    mu = [sum(r) / L for r in draws]
    y = [r[0] for r in draws] if evaluated is None else evaluated
    if pool == "evaluated":
        var = sum((y[i] - mu[i]) ** 2 for i in range(n)) / n
    else:
        var = sum((v - mu[i]) ** 2 for i in range(n) for v in draws[i]) / (n * (L - 1))
    total = 0.0
    for i in range(n):
        inner = sum(math.exp(-(y[i] - mu[j]) ** 2 / (2 * var)) for j in range(n)) / n
        total += -(y[i] - mu[i]) ** 2 / (2 * var) - math.log(inner)
    return total / n


def gaussian_draws(means: torch.Tensor, sigma: float, L: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    draws = means[:, None] + sigma * torch.randn(len(means), L, generator=g, dtype=torch.float64)
    fresh = means + sigma * torch.randn(len(means), generator=g, dtype=torch.float64)
    return draws, fresh


@pytest.mark.parametrize("pool", ["evaluated", "within"])
@pytest.mark.parametrize("fresh", [False, True])
def test_vectorised_estimate_matches_the_slow_implementation(pool, fresh):
    draws, ev = gaussian_draws(torch.linspace(-3, 3, 40, dtype=torch.float64), 1.0, 5, seed=0)
    ev = ev if fresh else None
    got = mi_estimate(draws, ev, pool)
    want = slow_mi(draws.tolist(), None if ev is None else ev.tolist(), pool)
    assert got == pytest.approx(want, abs=1e-10)


def test_well_separated_examples_give_log_n():
    n = 600
    draws, ev = gaussian_draws(torch.arange(n, dtype=torch.float64) * 50.0, 1.0, 5, seed=1)
    assert mi_estimate(draws, ev) == pytest.approx(math.log(n), abs=1e-3)


def test_identical_examples_give_about_zero():
    draws, ev = gaussian_draws(torch.zeros(600, dtype=torch.float64), 1.0, 5, seed=2)
    for e in (ev, None):
        for pool in ("evaluated", "within"):
            assert abs(mi_estimate(draws, e, pool)) < 0.15


TWO_CLUSTERS = torch.cat([torch.full((300,), -20.0), torch.full((300,), 20.0)]).double()


@pytest.mark.parametrize("fresh", [True, False])
def test_two_tight_clusters_give_log_2(fresh):
    draws, ev = gaussian_draws(TWO_CLUSTERS, 1.0, 50, seed=3)
    assert mi_estimate(draws, ev if fresh else None) == pytest.approx(math.log(2), abs=0.025)


def test_with_few_draws_the_two_choices_are_biased_in_opposite_directions():
    """With Müller's L = 5 the plug-in means are noisy: a fresh draw is judged against them
    too harshly (Î below log 2), a reused draw too kindly (above). The bias shrinks like 1/L."""
    draws, ev = gaussian_draws(TWO_CLUSTERS, 1.0, 5, seed=3)
    fresh, reuse = mi_estimate(draws, ev), mi_estimate(draws, None)
    assert fresh < math.log(2) < reuse
    big, big_ev = gaussian_draws(TWO_CLUSTERS, 1.0, 500, seed=3)
    assert abs(mi_estimate(big, big_ev) - math.log(2)) < abs(fresh - math.log(2)) / 5


def test_estimate_never_exceeds_log_n_and_stays_near_the_range():
    for seed in range(10):
        g = torch.Generator().manual_seed(seed)
        n = 50
        means = torch.randn(n, generator=g, dtype=torch.float64) * float(torch.rand(1, generator=g) * 5)
        draws, ev = gaussian_draws(means, 1.0, 5, seed=seed + 100)
        for e in (ev, None):
            for pool in ("evaluated", "within"):
                v = mi_estimate(draws, e, pool)
                assert v <= math.log(n) + 1e-12
                assert v > -0.5   # estimator noise only; never the -4000 of unnormalised versions


def test_matches_the_true_mutual_information_of_a_gaussian_mixture():
    """I(X;Y) = H(Y) − H(Y|X) for X uniform over 4 means, Y|X ~ N(μ_x, 1), by numerical integration."""
    means = torch.tensor([0.0, 1.0, 2.5, 5.0], dtype=torch.float64)
    ys = torch.linspace(-10, 15, 200_001, dtype=torch.float64)
    dens = torch.exp(-(ys[:, None] - means) ** 2 / 2).mean(1) / math.sqrt(2 * math.pi)
    h_y = -(dens * dens.clamp_min(1e-300).log()).sum().item() * (ys[1] - ys[0]).item()
    true_mi = h_y - 0.5 * math.log(2 * math.pi * math.e)
    # many examples per mean, many draws per example: the plug-in bias vanishes; three
    # independent samples average out the Monte-Carlo noise (≈ 0.01 each)
    est = sum(mi_estimate(*gaussian_draws(means.repeat_interleave(1000), 1.0, 100, seed=s), "within")
              for s in range(3)) / 3
    assert est == pytest.approx(true_mi, abs=0.012)
    assert 0 < true_mi < math.log(4)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="L >= 2"):
        mi_estimate(torch.zeros(5, 1))
    with pytest.raises(ValueError, match="pool"):
        mi_estimate(torch.randn(5, 3), pool="median")
    with pytest.raises(ValueError, match="zero variance"):
        mi_estimate(torch.ones(5, 3))
