"""Model registry: one file per model, built by name from params."""
from __future__ import annotations

from torch import nn

from .fcn import FCN


def build_model(name: str, in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> nn.Module:
    if name == "fcn":
        in_features = 1
        for d in in_shape:
            in_features *= d
        return FCN(in_features, num_classes, hidden=list(cfg["hidden"]),
                   dropout=cfg["dropout"], init_std=cfg["init_std"])
    raise ValueError(f"unknown model {name!r}; known: fcn")
