"""Batched augmentation as tensor operations on the training device.

No per-sample Python loop: a whole batch is transformed with one gather, on
whatever device holds it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image [B, H, W] (or [B, C, H, W]) by an independent integer
    (dy, dx), each uniform in {-max_shift, ..., max_shift}: Müller's
    "25 equiprobable centerings" for max_shift=2. Vacated pixels are zero.
    """
    if max_shift == 0:
        return x
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    b, _, h, w = x.shape
    k = 2 * max_shift + 1
    d = torch.randint(0, k, (2, b), generator=gen, device=gen.device).to(x.device)
    padded = F.pad(x, (max_shift,) * 4)
    rows = (d[0, :, None] + torch.arange(h, device=x.device))  # [B, H] rows of the padded image
    cols = (d[1, :, None] + torch.arange(w, device=x.device))  # [B, W]
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return out.squeeze(1) if squeeze else out
