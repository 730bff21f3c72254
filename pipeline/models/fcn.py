"""Fully-connected network of Müller et al. (after Hinton et al. 2015, §3).

Two hidden ReLU layers (1200 units for teachers, 800 for students), optional
dropout, Gaussian initialisation. ``features`` returns the penultimate-layer
activations explicitly, so later stages never need forward hooks.
"""
from __future__ import annotations

import torch
from torch import nn

TITLE = "FCN"  # how tables and figures name it (models.title)


class FCN(nn.Module):
    def __init__(self, in_features: int, num_classes: int, hidden: list[int],
                 dropout: float = 0.0, init_std: float = 0.03, bias_std: float = 0.0):
        super().__init__()
        widths = [in_features, *hidden]
        blocks: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            blocks += [nn.Linear(w_in, w_out), nn.ReLU()]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
        self.body = nn.Sequential(nn.Flatten(), *blocks)
        self.head = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=init_std)
                if bias_std:  # the replication's N(0, 0.03) biases
                    nn.init.normal_(m.bias, std=bias_std)
                else:
                    nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def linear_layers(self) -> list[nn.Linear]:
        """Linear layers in order; the per-layer learning rates follow it."""
        return [m for m in self.modules() if isinstance(m, nn.Linear)]


def build(in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> FCN:
    in_features = 1
    for d in in_shape:
        in_features *= d
    return FCN(in_features, num_classes, hidden=list(cfg["hidden"]), dropout=cfg["dropout"],
               init_std=cfg["init_std"], bias_std=cfg.get("bias_std", 0.0))
