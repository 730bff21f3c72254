"""G independent FCNs of one shape, evaluated with one batched matmul per layer.

The α sweep and the distillation grid are many small FCNs that cannot fill a
GPU one at a time. Stacking their weights ([G, out, in]) turns G small matmuls
into one ``baddbmm``; each member keeps its own initialisation (built from its
own seed), its own batches and its own loss, and since the loss is the sum of
the members' losses, each member's gradient is exactly its own. SGD with
momentum, dampening and per-layer learning rates is element-wise, so it
updates every member as it would alone (tests/test_stacked.py).

Not built by name through ``build_model``: it is made from trained or freshly
built members. Member states and the optimiser come from ``stacked_names()``
(pipeline/training/stacking.py), the same code for every stacked model.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fcn import FCN


class StackedFCN(nn.Module):
    def __init__(self, members: list[FCN]):
        super().__init__()
        if any(isinstance(m, nn.Dropout) for f in members for m in f.modules()):
            raise ValueError("StackedFCN does not implement dropout; train dropout FCNs one by one")
        layers = [f.linear_layers() for f in members]
        if len({tuple((lin.in_features, lin.out_features) for lin in ls) for ls in layers}) != 1:
            raise ValueError("all members must have the same layer sizes")
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].weight.detach() for ls in layers]).clone()) for i in range(len(layers[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].bias.detach() for ls in layers]).clone()) for i in range(len(layers[0])))

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [G, B, ...] (each member's own batch) -> logits [G, B, K]."""
        h = x.flatten(2)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
            if i < last:
                h = F.relu(h)
        return h

    def stacked_names(self) -> dict[str, str]:
        """Member parameter name -> this module's state-dict key of its stacked tensor."""
        return {f"{name}.{kind}": f"{_STACKED[kind]}.{i}"
                for i, name in enumerate(_fcn_names(len(self.weights))) for kind in ("weight", "bias")}


_STACKED = {"weight": "weights", "bias": "biases"}   # FCN's parameter name -> StackedFCN's list


def _fcn_names(n_layers: int) -> list[str]:
    """The FCN's names of its linear layers, in order ("body.1", "body.3", "head" for two hidden layers)."""
    return [n for n, m in FCN(1, 1, [1] * (n_layers - 1)).named_modules() if isinstance(m, nn.Linear)]
