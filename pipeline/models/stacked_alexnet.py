"""G independent CIFAR AlexNets of one shape as one module: grouped convolutions and batched matmuls.

Figure 8's students and the α sweep of the paper profile are many AlexNets
that leave a GPU mostly idle one at a time. Member g's input is its own batch
``x[g]``; its channels become group g of a convolution with ``groups=G``, its
LRN runs over its own 64 channels only, and its fully connected layers are one
``baddbmm`` each, so every member computes exactly its own network
(tests/test_stacked.py). Parameters are stacked on a leading G dimension with
the member's shapes, so a member's state dict is a slice
(pipeline/training/stacking.py); the convolution weights are viewed as
[G·64, C, 5, 5] in ``forward``. ``channels_last`` (set by the trainer) puts the
convolutions' activations and weights in that memory format.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .alexnet import TF_LRN, AlexNetCifar, SamePool, TFLocalResponseNorm

NAMES = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc3.weight", "fc3.bias",
         "fc4.weight", "fc4.bias", "head.weight", "head.bias"]


class StackedAlexNet(nn.Module):
    def __init__(self, members: list[AlexNetCifar]):
        super().__init__()
        states = [dict(m.named_parameters()) for m in members]
        if len({tuple(s[n].shape for n in NAMES) for s in states}) != 1:
            raise ValueError("all members must have the same layer sizes")
        self.params = nn.ParameterDict({n.replace(".", "_"): nn.Parameter(torch.stack([s[n].detach() for s in states]))
                                        for n in NAMES})
        self.pool, self.norm = SamePool(), TFLocalResponseNorm(**TF_LRN)
        self.channels_last = False

    @property
    def size(self) -> int:
        return self.params["conv1_weight"].shape[0]

    def stacked_names(self) -> dict[str, str]:
        """Member parameter name -> this module's state-dict key of its stacked tensor."""
        return {n: "params." + n.replace(".", "_") for n in NAMES}

    def _conv(self, h: torch.Tensor, name: str) -> torch.Tensor:
        w, b = self.params[f"{name}_weight"], self.params[f"{name}_bias"]
        w = w.reshape(-1, *w.shape[2:])   # [G·out, in, 5, 5]: group g holds member g's filters
        if self.channels_last:
            w = w.contiguous(memory_format=torch.channels_last)
        return F.conv2d(h, w, b.reshape(-1), padding=2, groups=self.size)

    def _lrn(self, h: torch.Tensor) -> torch.Tensor:
        """LRN over each member's own channels: a window never reaches into the next member."""
        b, gc, hh, ww = h.shape
        return self.norm(h.reshape(b * self.size, gc // self.size, hh, ww)).reshape(b, gc, hh, ww)

    def _linear(self, h: torch.Tensor, name: str) -> torch.Tensor:
        w, b = self.params[f"{name}_weight"], self.params[f"{name}_bias"]
        return torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [G, B, 3, H, W] (each member's own batch) -> logits [G, B, K]."""
        g, b = x.shape[:2]
        h = x.transpose(0, 1).reshape(b, g * x.shape[2], *x.shape[3:])   # [B, G·3, H, W]
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        h = self._lrn(self.pool(F.relu(self._conv(h, "conv1"))))
        h = self.pool(self._lrn(F.relu(self._conv(h, "conv2"))))
        h = h.reshape(b, g, -1).transpose(0, 1)    # [G, B, 64·side²] in the member's flatten order
        h = F.relu(self._linear(h, "fc3"))
        h = F.relu(self._linear(h, "fc4"))
        return self._linear(h, "head")
