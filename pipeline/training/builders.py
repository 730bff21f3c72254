"""Optimisers, schedules and devices built from plain config dicts."""
from __future__ import annotations

import torch
from torch import nn


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
    return torch.device(name)


def sgd_per_layer(model: nn.Module, lrs: list[float], momentum: float, dampening: float,
                  weight_decay: float) -> torch.optim.SGD:
    """SGD with one learning rate per linear layer (in model order)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(layers) != len(lrs):
        raise ValueError(f"{len(lrs)} learning rates for {len(layers)} linear layers")
    groups = [{"params": list(m.parameters()), "lr": lr} for m, lr in zip(layers, lrs)]
    return torch.optim.SGD(groups, lr=lrs[0], momentum=momentum, dampening=dampening,
                           weight_decay=weight_decay)


def linear_decay(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Every group's lr falls linearly from its initial value to 0 at the last step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: max(0.0, 1.0 - t / steps))
