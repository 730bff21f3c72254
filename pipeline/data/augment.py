"""Batched augmentation as tensor operations on the training device.

No per-sample Python loop: a whole batch is transformed with one gather, on
whatever device holds it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator, draw: str = "uniform") -> torch.Tensor:
    """Shift each image [B, H, W] (or [B, C, H, W]) by an independent integer
    (dy, dx). ``draw`` uniform: each uniform in {-max_shift, ..., max_shift}, Müller's
    "25 equiprobable centerings" for max_shift=2; ``rounded``: each round(U(-max_shift, max_shift)),
    torchvision's ``RandomAffine(0, (t, t))`` on a side of max_shift/t pixels, the replication's
    (for max_shift=2: 0 and ±1 with probability 1/4 each, ±2 with 1/8). Vacated pixels are zero.
    """
    if max_shift == 0:
        return x
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    b, _, h, w = x.shape
    if draw == "uniform":
        d = torch.randint(0, 2 * max_shift + 1, (2, b), generator=gen, device=gen.device).to(x.device)
    elif draw == "rounded":
        u = torch.rand((2, b), generator=gen, device=gen.device, dtype=torch.float64) * (2 * max_shift) - max_shift
        d = (torch.round(u).long() + max_shift).to(x.device)   # ties have probability 0
    else:
        raise ValueError(f"shift draw must be 'uniform' or 'rounded', not {draw!r}")
    padded = F.pad(x, (max_shift,) * 4)
    rows = (d[0, :, None] + torch.arange(h, device=x.device))  # [B, H] rows of the padded image
    cols = (d[1, :, None] + torch.arange(w, device=x.device))  # [B, W]
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return out.squeeze(1) if squeeze else out


def _crop_at(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """Per-image crops [B, C, size, size] at (top, left), by one gather."""
    b = x.shape[0]
    rows = top[:, None] + torch.arange(size, device=x.device)
    cols = left[:, None] + torch.arange(size, device=x.device)
    bi = torch.arange(b, device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_crop(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """A uniformly placed size×size crop of each image [B, C, H, W] (AlexNet's 24×24 of 32×32).
    For ResNet's pad-4 crop-32, use random_shift(x, 4, gen): the same distribution."""
    b, _, h, w = x.shape
    top = torch.randint(0, h - size + 1, (b,), generator=gen, device=gen.device).to(x.device)
    left = torch.randint(0, w - size + 1, (b,), generator=gen, device=gen.device).to(x.device)
    return _crop_at(x, top, left, size)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability ½."""
    flip = torch.rand(x.shape[0], generator=gen, device=gen.device).to(x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_affine(x: torch.Tensor, gen: torch.Generator, degrees: float, translate: float,
                  scale: tuple[float, float]) -> torch.Tensor:
    """Random rotation (±degrees), translation (±translate of the side) and zoom (uniform in
    ``scale``) of each float image [B, C, H, W], batched through affine_grid/grid_sample
    (bilinear, zeros outside): the replication's RandomAffine for CUB and Tiny ImageNet."""
    b = x.shape[0]
    u = torch.rand(4, b, generator=gen, device=gen.device).to(x.device, torch.float32)
    angle = (2 * u[0] - 1) * degrees * torch.pi / 180
    s = scale[0] + (scale[1] - scale[0]) * u[1]
    tx, ty = (2 * u[2] - 1) * translate * 2, (2 * u[3] - 1) * translate * 2  # grid units: side = 2
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s   # inverse map: output -> input coordinates
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
