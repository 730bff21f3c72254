"""Müller et al.'s estimate of the mutual information between an example and its logit gap (§4, Fig. 6).

X is one of N training examples, uniform; Y = f(d(z_x)) is the difference of
two classes' logits for a random augmentation d of example x. Assuming
p(y|x) = N(μ_x, σ²) with one shared variance:

    μ_x = (1/L) Σ_l f(d_l(z_x))
    Î   = (1/N) Σ_x [ −(y_x − μ_x)² / (2σ²) − log( (1/N) Σ_x' exp(−(y_x − μ_x')² / (2σ²)) ) ]

in nats, where y_x is one evaluated draw per example. The 1/N inside the log
is what keeps Î in [0, log N] (up to estimator noise); dropping it shifts
every term by log N, and dropping the normalisation altogether is how public
attempts ended near −4000. The inner log-mean-exp is computed as
``logsumexp − log N``.

Each term is at most log N exactly (the x' = x summand alone gives it), so
Î ≤ log N for any input; Î ≈ 0 when the examples are indistinguishable.

Two choices the paper leaves open are parameters:
- ``evaluated``: the draw y_x is a *fresh* augmentation (pass it), or *one of
  the L* used for μ_x (leave it None: the first is used);
- ``pool``: σ² = (1/N) Σ_x (y_x − μ_x)² over the evaluated draws (``"evaluated"``,
  the formula in the reference notes), or the pooled within-example variance
  of the L draws, Σ_x Σ_l (y_{x,l} − μ_x)² / (N (L − 1)) (``"within"``).
"""
from __future__ import annotations

import math

import torch

POOLS = ("evaluated", "within")


def mi_estimate(draws: torch.Tensor, evaluated: torch.Tensor | None = None, pool: str = "evaluated") -> float:
    """Î in nats from ``draws`` [N, L] (L augmentations per example) and optional fresh draws [N]."""
    if draws.dim() != 2 or draws.shape[1] < 2:
        raise ValueError(f"draws must be [N, L] with L >= 2, got {tuple(draws.shape)}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, not {pool!r}")
    d = draws.double()
    n, L = d.shape
    mu = d.mean(dim=1)
    y = d[:, 0] if evaluated is None else evaluated.double()
    if pool == "evaluated":
        var = ((y - mu) ** 2).mean()
    else:
        var = ((d - mu[:, None]) ** 2).sum() / (n * (L - 1))
    if not var > 0:
        raise ValueError("zero variance: every draw equals its example's mean; Î is undefined")
    a = -(y[:, None] - mu[None, :]) ** 2 / (2 * var)         # [x, x']
    terms = a.diagonal() - (torch.logsumexp(a, dim=1) - math.log(n))
    return terms.mean().item()
