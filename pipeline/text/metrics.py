"""Token-level metrics of a translation model under teacher forcing, with PAD excluded everywhere.

The model is given the correct target prefix (Müller's setting), and every
target position that is PAD is dropped before anything is computed:
log-softmax is over the vocabulary axis (the last), the temperature divides
the logits, and accuracy, NLL and ECE see only real tokens (EOS included:
predicting the end of a sentence is part of translating it).
"""
from __future__ import annotations

import torch

from ..formulas.reliability import ece_from_logits, nll
from .batches import eval_batches, teacher_forced

PAD = 0


def real_tokens(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T, V], [B, T] -> [N, V], [N] for the N non-PAD target positions."""
    keep = targets != PAD
    return logits[keep], targets[keep]


def token_metrics(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0, n_bins: int = 15) -> dict:
    """Accuracy (%), NLL per token (nats) and ECE of the non-PAD tokens at ``temperature``."""
    z, y = real_tokens(logits, targets)
    return {"tokens": int(len(y)), "acc": 100.0 * (z.argmax(-1) == y).double().mean().item(),
            "nll": nll(z, y, temperature), "ece": ece_from_logits(z, y, temperature, n_bins)}


@torch.no_grad()
def teacher_forced_logits(model, split: dict, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N, V] (float32, CPU) and targets [N] of the N real target tokens of a split, in order.

    ``split`` holds padded ids (pipeline/text/batches.py); the model sees the
    correct prefix at every position. Dropout is off while this runs.
    """
    was_training = model.training
    model.eval()
    zs, ys = [], []
    for src, tgt in eval_batches(split, batch_size):
        x, y = teacher_forced(src, tgt)
        z, y = real_tokens(model(x), y)
        zs.append(z.float().cpu())
        ys.append(y.cpu())
    model.train(was_training)
    return torch.cat(zs), torch.cat(ys)
