"""Training losses. Each formula lives here once; stages import it."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def smoothed_targets(targets: torch.Tensor, num_classes: int, alpha: float) -> torch.Tensor:
    """y_LS = y (1 - alpha) + alpha / K (Müller Eq. 1 / Szegedy et al.)."""
    return F.one_hot(targets, num_classes).float() * (1 - alpha) + alpha / num_classes


def label_smoothing_ce(logits: torch.Tensor, targets: torch.Tensor, alpha: float,
                       scale: float = 1.0) -> torch.Tensor:
    """Cross-entropy against y_LS, averaged over the batch, times ``scale``.

    Exactly ``CrossEntropyLoss(label_smoothing=alpha)``; the scale is the
    ``CE x 3`` of Müller's convnet settings (1 for the FCN).
    """
    return scale * F.cross_entropy(logits, targets, label_smoothing=alpha)


def distill_logit_regression(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                             targets: torch.Tensor, ce_weight: float = 0.4,
                             regress_on: str = "logits", squared_error: str = "half_sum") -> torch.Tensor:
    """Müller's MNIST distillation loss (Table 4, after Hinton et al. 2015):

        ce_weight · CE(y, q) + (1 − ce_weight) · ½ Σ_k (z_k − v_k)², averaged over the batch,

    with z the student's logits and v the teacher's logits. ``regress_on="probabilities"``
    replaces v by the teacher's softmax: the replication's defect, kept only to measure it.
    ``squared_error="mean"`` takes the squared error as the replication's ``nn.MSELoss()`` does, a mean over
    batch × classes without the ½ (2/K times ours).
    """
    if regress_on == "logits":
        v = teacher_logits
    elif regress_on == "probabilities":
        v = torch.softmax(teacher_logits, dim=-1)
    else:
        raise ValueError(f"regress_on must be 'logits' or 'probabilities', not {regress_on!r}")
    if squared_error == "half_sum":
        mse = 0.5 * (student_logits - v).pow(2).sum(dim=-1).mean()
    elif squared_error == "mean":
        mse = (student_logits - v).pow(2).mean()
    else:
        raise ValueError(f"squared_error must be 'half_sum' or 'mean', not {squared_error!r}")
    return ce_weight * F.cross_entropy(student_logits, targets) + (1 - ce_weight) * mse


def distill_soft_targets(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                         targets: torch.Tensor, beta: float, temperature: float) -> torch.Tensor:
    """Müller Eq. 2: (1 − β) H(y, q) + β H(p_teacher(T), q), student temperature 1."""
    p_teacher = torch.softmax(teacher_logits / temperature, dim=-1)
    soft = -(p_teacher * torch.log_softmax(student_logits, dim=-1)).sum(dim=-1).mean()
    return (1 - beta) * F.cross_entropy(student_logits, targets) + beta * soft


def sequence_ce(logits: torch.Tensor, targets: torch.Tensor, alpha: float, pad: int) -> torch.Tensor:
    """The Transformer's training loss: mean over non-PAD tokens of the cross-entropy against y(1−α) + α/V.

    Smoothing mass goes to every vocabulary entry, PAD and the other specials
    included (PyTorch's and tensor2tensor's definition); PAD *positions* carry
    no loss at all.
    """
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad, label_smoothing=alpha)


def build_loss(spec: dict):
    """A classifier run's loss(student_logits, targets, teacher_logits) from its config's ``loss`` dict: adding a
    loss is its formula above and its ``kind`` here (plus a config helper in pipeline/run_configs.py)."""
    kind = spec["kind"]
    if kind == "label_smoothing":
        return lambda z, y, t: label_smoothing_ce(z, y, spec["alpha"], spec.get("scale", 1.0))
    if kind == "logit_regression":
        return lambda z, y, t: distill_logit_regression(z, t, y, spec["ce_weight"], spec["regress_on"],
                                                        spec.get("squared_error", "half_sum"))
    if kind == "soft_targets":
        return lambda z, y, t: spec.get("scale", 1.0) * distill_soft_targets(z, t, y, spec["beta"],
                                                                              spec["temperature"])
    raise ValueError(f"unknown loss kind {kind!r}")
