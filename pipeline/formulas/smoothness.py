"""The smoothness index γ of a teacher (Müller et al. §4).

γ = E_x [ Σ_k (1 − y_k) · p_k^teacher(x; T) · K / (K − 1) ], with y the one-hot
label: the teacher's probability mass off the true class, rescaled so that a
teacher whose output is exactly the smoothed label y(1−α) + α/K has γ = α.
Σ_k (1 − y_k) p_k = 1 − p_true, so γ = K/(K−1) · E[1 − p_true(T)].
Computed over the (non-augmented) training set the student is distilled on.
"""
from __future__ import annotations

import torch


def smoothness_index(teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    k = teacher_logits.shape[-1]
    p = torch.softmax(teacher_logits.double() / temperature, dim=-1)
    off_true = 1.0 - p.gather(1, labels[:, None]).squeeze(1)
    return (off_true.mean() * k / (k - 1)).item()
