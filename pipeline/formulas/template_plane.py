"""Penultimate-layer projection (Müller et al. §2, Figure 2) and numbers that measure it.

**Templates.** The logit of class k is w_k·x + b_k = [w_k, b_k]·[x, 1], so the
template of class k is its last-layer weight row with the bias appended, and
an activation x is lifted to [x, 1] before projecting.

**Plane.** The three templates of the chosen classes span an affine plane;
its direction space is span{w₂−w₁, w₃−w₁}, orthonormalised by QR. An
activation's coordinates are its dot products with the two basis vectors, as
in Müller's figure (the templates are projected the same way).

**Cluster metrics** in the projected plane, with c_k the centroid of class k:
- ``spread_k`` = RMS distance of class k's points to c_k;
- ``separation`` = mean of the three centroid distances |c_i − c_j|;
- ``tightness`` = mean_k spread_k / separation — smaller is tighter, relative
  to how far apart the classes are (so it does not depend on the plot's scale);
- ``equidistance`` = std / mean of the three centroid distances (population
  std): 0 for an equilateral triangle, larger as one class sits apart.
Müller's claim is that label smoothing lowers both.
"""
from __future__ import annotations

import itertools

import torch


def templates(weight: torch.Tensor, bias: torch.Tensor, classes: list[int]) -> torch.Tensor:
    """[3, D+1]: the chosen classes' weight rows with the bias appended."""
    return torch.cat([weight[classes], bias[classes, None]], dim=1).double()


def lift(acts: torch.Tensor) -> torch.Tensor:
    """[N, D] -> [N, D+1] with a trailing 1, matching the bias in the templates."""
    return torch.cat([acts.double(), acts.new_ones(len(acts), 1).double()], dim=1)


def plane_basis(tmpl: torch.Tensor) -> torch.Tensor:
    """[D+1, 2] orthonormal basis of span{t₂−t₁, t₃−t₁} (reduced QR)."""
    diffs = torch.stack([tmpl[1] - tmpl[0], tmpl[2] - tmpl[0]], dim=1)
    q, r = torch.linalg.qr(diffs)
    if r.diagonal().abs().min() < 1e-12 * r.abs().max():
        raise ValueError("the three templates are collinear: they span no plane")
    return q


def project(points: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """[N, D+1] lifted points -> [N, 2] coordinates in the plane."""
    return points.double() @ basis


def cluster_metrics(xy: torch.Tensor, labels: torch.Tensor) -> dict:
    classes = labels.unique(sorted=True)
    if len(classes) != 3:
        raise ValueError(f"cluster metrics need exactly 3 classes, got {len(classes)}")
    cents = torch.stack([xy[labels == c].mean(0) for c in classes])
    spreads = torch.stack([((xy[labels == c] - cents[i]) ** 2).sum(1).mean().sqrt()
                           for i, c in enumerate(classes)])
    dists = torch.stack([(cents[i] - cents[j]).norm() for i, j in itertools.combinations(range(3), 2)])
    sep = dists.mean()
    return {"tightness": (spreads.mean() / sep).item(),
            "equidistance": (dists.std(unbiased=False) / sep).item(),
            "separation": sep.item(),
            "spread": spreads.mean().item()}
