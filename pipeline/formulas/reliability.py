"""Calibration formulas: reliability bins, ECE, temperature scaling.

Every stage that needs ECE or a temperature imports it from here.

**Bin convention.** ``n_bins`` equal-width bins on the top-label confidence,
closed on the right as in Guo et al. (2017): bin ``b`` is
``(b/n, (b+1)/n]``, except that the first bin also holds 0, i.e. ``[0, 1/n]``.
A confidence exactly on an interior edge ``b/n`` therefore lands in the
lower bin ``b-1``; a confidence of exactly 1.0 (common with saturated
float32 softmax) lands in the last bin. Edges are ``linspace(0, 1, n+1)`` in
float64 and confidences are compared in float64.

torchmetrics (>= 1.0) instead uses ``[l, u)`` bins and gives 1.0 a bin of its
own, so the two agree unless a confidence sits exactly on an edge or at 1.0
(``tests/test_calibration.py`` shows both cases).

ECE = Σ_b (n_b / N) · |acc_b − conf_b|.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

N_BINS = 15


class CalibrationError(RuntimeError):
    """Temperature scaling could not be fitted reliably."""


def top_label(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0):
    """(confidence, correct) of the top label after dividing the logits by T, in float64."""
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    conf, pred = probs.max(dim=-1)
    return conf, (pred == labels).double()


def bin_index(confidence: torch.Tensor, n_bins: int = N_BINS) -> torch.Tensor:
    """Bin of each confidence under the (l, u] convention above."""
    inner = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:-1]
    return torch.bucketize(confidence.double(), inner, right=False)


def reliability_bins(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = N_BINS) -> dict:
    """Per-bin count, mean confidence and accuracy (NaN where a bin is empty)."""
    idx = bin_index(confidence, n_bins)
    count = torch.bincount(idx, minlength=n_bins).double()
    conf_sum = torch.bincount(idx, weights=confidence.double(), minlength=n_bins)
    acc_sum = torch.bincount(idx, weights=correct.double(), minlength=n_bins)
    with torch.no_grad():
        return {"count": count, "confidence": conf_sum / count, "accuracy": acc_sum / count,
                "lower": torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[:-1],
                "upper": torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:]}


def reliability_rows(logits: torch.Tensor, labels: torch.Tensor, t: float, curve: str, n_bins: int) -> list[dict]:
    """Non-empty reliability bins of the logits at T as rows {curve, confidence, accuracy, count} (`dvc plots`)."""
    b = reliability_bins(*top_label(logits, labels, t), n_bins)
    return [{"curve": curve, "confidence": round(b["confidence"][i].item(), 5),
             "accuracy": round(b["accuracy"][i].item(), 5), "count": int(b["count"][i].item())}
            for i in range(n_bins) if b["count"][i] > 0]


def ece(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = N_BINS) -> float:
    """Expected calibration error, Σ_b (n_b/N)|acc_b − conf_b|, vectorised."""
    if len(confidence) == 0:
        raise ValueError("ECE of an empty set")
    idx = bin_index(confidence, n_bins)
    gap = torch.bincount(idx, weights=correct.double() - confidence.double(), minlength=n_bins)
    return (gap.abs().sum() / len(confidence)).item()


def ece_from_logits(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                    n_bins: int = N_BINS) -> float:
    return ece(*top_label(logits, labels, temperature), n_bins)


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under softmax(logits / T)."""
    return F.cross_entropy(logits.double() / temperature, labels).item()


@dataclass
class TemperatureFit:
    temperature: float
    nll_before: float     # at T = 1
    nll_after: float
    grad: float           # d NLL / d log T at the solution
    iterations: int


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, tol: float = 1e-6,
                    max_iter: int = 200) -> TemperatureFit:
    """One T > 0 minimising the NLL of ``labels`` under softmax(logits / T).

    Optimises log T (so T stays positive) with L-BFGS and a strong-Wolfe line
    search in float64, then checks convergence: the gradient must vanish and
    T must be finite and not at a boundary. A set on which the NLL keeps
    falling as T → 0 (every example right by a wide margin) or T → ∞ has no
    minimiser; that raises CalibrationError rather than returning an arbitrary T.
    Fit it on a validation split, never on the split you report.
    """
    z, y = logits.detach().double(), labels.detach()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, tolerance_grad=tol * 1e-2,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    loss = closure()
    grad = log_t.grad.item()
    t = math.exp(log_t.item())
    iters = opt.state[opt._params[0]].get("n_iter", 0)
    # A vanishing gradient is not enough: where the NLL has no minimum it flattens out
    # exponentially as T -> 0, so also require that T is a local minimum.
    f0, f_lo, f_hi = nll(z, y, t), nll(z, y, t / 1.01), nll(z, y, t * 1.01)
    is_min = f_lo >= f0 * (1 - 1e-9) and f_hi >= f0 * (1 - 1e-9)
    if not (math.isfinite(t) and math.isfinite(grad)) or abs(grad) > tol or not 1e-3 < t < 1e3 or not is_min:
        raise CalibrationError(
            f"temperature scaling did not converge: T = {t:.6g}, dNLL/dlogT = {grad:.3g} after {iters} "
            f"iterations on {len(y)} examples. If T ran to a boundary the NLL has no minimum on this "
            f"split: either every example is classified right with a large margin (use a larger "
            f"validation split), or the model is no better than chance, so its NLL keeps falling "
            f"towards log K as T grows (train it longer).")
    return TemperatureFit(temperature=t, nll_before=nll(z, y), nll_after=loss.item(), grad=grad,
                          iterations=int(iters))


def ece_optimal_temperature(logits: torch.Tensor, labels: torch.Tensor, grid: list[float],
                            n_bins: int = N_BINS) -> float:
    """The T of ``grid`` with the lowest ECE (for reporting beside the NLL fit, on validation data)."""
    scores = [ece_from_logits(logits, labels, t, n_bins) for t in grid]
    return grid[min(range(len(grid)), key=scores.__getitem__)]
