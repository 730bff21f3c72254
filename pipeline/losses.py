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
