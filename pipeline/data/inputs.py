"""What a model sees: uint8 images -> (augmented, standardised) float batches.

One function for training batches and one for evaluation, both configured by
a run's ``input`` dict, so training, calibration, projection and the
mutual-information estimate all feed a model exactly the same way:

- ``augment``: ``none``; ``shift`` (±max_shift px, the FCN's 25 centerings);
  ``crop_flip`` (AlexNet: random crop×crop and flip; centre crop at test);
  ``pad_crop_flip`` (ResNet: pad, random crop back to the size, flip);
  ``affine_flip`` (CUB, Tiny ImageNet: rotation, translation, zoom, flip).
- ``standardize``: ``none`` (pixels in [0, 1], the MNIST runs);
  ``per_image`` (TF's per_image_standardization, Müller's CIFAR input:
  (x − mean) / max(std, 1/√n) over each image); ``per_channel`` (the
  replication's: fixed mean and std per channel of the training split).

Everything is a batched tensor operation on the device holding the data.
"""
from __future__ import annotations

import math

import torch

from . import augment
from .input_names import AUGMENTS, STANDARDIZE


def channel_stats(train_x: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, C, H, W] in [0, 1] units (float64 sums)."""
    c = train_x.shape[1]
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for i in range(0, len(train_x), chunk):
        b = train_x[i:i + chunk].double().div(255).transpose(0, 1).reshape(c, -1)
        s += b.sum(1).cpu()
        s2 += b.pow(2).sum(1).cpu()
    n = train_x.numel() // c
    mean = s / n
    return mean.tolist(), (s2 / n - mean ** 2).clamp_min(0).sqrt().tolist()


def standardize(x: torch.Tensor, cfg: dict) -> torch.Tensor:
    """Float [0, 1] images -> the model's input scale."""
    how = cfg.get("standardize", "none")
    if how == "none":
        return x
    if how == "per_image":
        flat = x.flatten(1)
        mean = flat.mean(1)
        adj = flat.std(1, unbiased=False).clamp_min(1.0 / math.sqrt(flat.shape[1]))
        return (x - mean.view(-1, 1, 1, 1)) / adj.view(-1, 1, 1, 1)
    if how == "per_channel":
        mean = torch.tensor(cfg["mean"], device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(cfg["std"], device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std
    raise ValueError(f"input.standardize must be one of {STANDARDIZE}, not {how!r}")


def train_batch(x: torch.Tensor, cfg: dict, gen: torch.Generator) -> torch.Tensor:
    """A uint8 batch -> an augmented, standardised float batch."""
    how = cfg["augment"]
    if how == "shift":
        x = augment.random_shift(x, cfg["max_shift"], gen, cfg.get("shift_draw", "uniform"))
    elif how == "crop_flip":
        x = augment.random_flip(augment.random_crop(x, cfg["crop"], gen), gen)
    elif how == "pad_crop_flip":
        x = augment.random_flip(augment.random_shift(x, cfg["pad"], gen), gen)
    elif how not in ("none", "affine_flip"):
        raise ValueError(f"input.augment must be one of {AUGMENTS}, not {how!r}")
    x = x.float().div_(255)
    if how == "affine_flip":
        x = augment.random_flip(augment.random_affine(x, gen, cfg["degrees"], cfg["translate"],
                                                      tuple(cfg["scale"])), gen)
    return standardize(x, cfg)


def eval_batch(x: torch.Tensor, cfg: dict) -> torch.Tensor:
    """A uint8 batch -> the deterministic test-time input (centre crop where training cropped)."""
    if cfg["augment"] == "crop_flip":
        x = augment.center_crop(x, cfg["crop"])
    return standardize(x.float().div_(255), cfg)


def is_deterministic(cfg: dict) -> bool:
    """True when training inputs never change between epochs (a teacher's logits can be cached)."""
    return cfg["augment"] == "none" or (cfg["augment"] == "shift" and cfg["max_shift"] == 0)
