"""The CIFAR-10 "AlexNet" of Müller et al.: TensorFlow's cifar10 tutorial network for 24×24 crops.

conv5×5 3→64, ReLU, maxpool 3/2, LRN, conv5×5 64→64, ReLU, LRN, maxpool 3/2,
fc 2304→384, ReLU, fc 384→192, ReLU, fc 192→K. Convolutions and pools use TF's
'SAME' padding; TF pads a stride-2 pool asymmetrically (one extra row and
column at the end), which is reproduced exactly.

**LRN.** TF: b = a / (bias + α_tf · Σ_{|c'−c| ≤ r} a_{c'}²)^β with depth_radius
r = 4, bias 1, α_tf = 0.001/9, β = 0.75 (tests/test_models.py checks ``TFLocalResponseNorm``
against TF's formula written out channel by channel). The window sum is a 1×1 convolution
of a² with a fixed banded 0/1 matrix: one matrix product instead of PyTorch's
``LocalResponseNorm`` (pad, 3-D average pool, several temporaries), which made the two
LRNs about half of AlexNet's training step on a CPU: the band is 2.7–4× faster forward and
backward (2-core AVX2 CPU; docs/speed.md).

**Initialisation** follows the tutorial: truncated normals with std 0.05
(convs), 0.04 (fc 384 and 192) and 1/192 for the last layer, biases 0, 0.1,
0.1, 0.1, 0. The replication passed a = b = −1/96 to ``trunc_normal_``, which
sets every last-layer weight to −1/96; here the last layer is a proper
truncated normal. ``decayed_parameters()`` names the two hidden fc weights
that take Müller's weight decay (0.04 · ½‖W‖²).
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

TITLE = "AlexNet"  # how tables and figures name it (models.title)
CONVNET = True  # convolutions: execution.channels_last applies (training/builders.py)

TF_LRN = {"depth_radius": 4, "bias": 1.0, "alpha": 0.001 / 9.0, "beta": 0.75}


@functools.lru_cache(maxsize=None)
def _band(channels: int, radius: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The [C, C, 1, 1] 0/1 matrix that sums each channel's window |c' − c| ≤ radius (built once per shape;
    a normal tensor even if first built under inference_mode, so training can use it afterwards)."""
    with torch.inference_mode(False):
        c = torch.arange(channels, device=device)
        return ((c[:, None] - c[None, :]).abs() <= radius).to(dtype)[:, :, None, None]


class TFLocalResponseNorm(nn.Module):
    """TF's local_response_normalization across channels (dim 1) of an NCHW batch, any channel count."""

    def __init__(self, depth_radius: int, bias: float, alpha: float, beta: float):
        super().__init__()
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        band = _band(a.shape[1], self.depth_radius, a.dtype, a.device)
        window = F.conv2d(a * a, band)  # Σ_{|c'−c| ≤ r} a_{c'}², channel by channel
        return a * window.mul(self.alpha).add_(self.bias).pow_(-self.beta)


class SamePool(nn.Module):
    """3×3 / 2 max-pool with TF 'SAME' padding: pad right and bottom only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)


class AlexNetCifar(nn.Module):
    def __init__(self, num_classes: int = 10, in_size: int = 24):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.pool, self.norm = SamePool(), TFLocalResponseNorm(**TF_LRN)
        side = -(-(-(-in_size // 2)) // 2)  # two stride-2 SAME pools: ceil(ceil(n/2)/2)
        self.fc3 = nn.Linear(64 * side * side, 384)
        self.fc4 = nn.Linear(384, 192)
        self.head = nn.Linear(192, num_classes)
        for m, std, b in [(self.conv1, 0.05, 0.0), (self.conv2, 0.05, 0.1), (self.fc3, 0.04, 0.1),
                          (self.fc4, 0.04, 0.1), (self.head, 1 / 192, 0.0)]:
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.constant_(m.bias, b)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.pool(F.relu(self.conv1(x))))
        x = self.pool(self.norm(F.relu(self.conv2(x))))
        x = F.relu(self.fc3(x.flatten(1)))
        return F.relu(self.fc4(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def decayed_parameters(self) -> list[nn.Parameter]:
        return [self.fc3.weight, self.fc4.weight]


def build(in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> AlexNetCifar:
    if in_shape[0] != 3:
        raise ValueError(f"AlexNet takes RGB input, got shape {in_shape}")
    return AlexNetCifar(num_classes, in_size=int(cfg.get("crop", in_shape[-1])))
