"""ResNet-56: the pre-activation ResNet for CIFAR (He et al. 2016, "Identity mappings"); depth 6n + 2 is a parameter.

Depth 6n + 2: a stem convolution, three stages of n basic blocks
(BN-ReLU-conv3×3-BN-ReLU-conv3×3 plus shortcut), then BN-ReLU, global average
pooling and the classifier. The first block of stages 2 and 3 halves the
resolution; its shortcut is a 1×1 stride-2 convolution of the pre-activated
input. The stem kernel (Müller: 3×3; the replication used 7×7 on CIFAR-100)
and the stage widths (He et al.: 16/32/64, about 0.85 M parameters; the
replication: 32/64/128 from tensor2tensor) are parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TITLE = "ResNet-56"  # how tables and figures name it (models.title)
CONVNET = True  # convolutions: execution.channels_last applies (training/builders.py)


class PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride, bias=False)
                         if stride != 1 or c_in != c_out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(pre)
        return skip + self.conv2(F.relu(self.bn2(self.conv1(pre))))


class PreActResNet(nn.Module):
    def __init__(self, depth: int = 56, widths: tuple[int, int, int] = (16, 32, 64), stem_kernel: int = 3,
                 num_classes: int = 10):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2, got {depth}")
        n = (depth - 2) // 6
        self.stem = nn.Conv2d(3, widths[0], stem_kernel, 1, stem_kernel // 2, bias=False)
        blocks, c = [], widths[0]
        for stage, w in enumerate(widths):
            for i in range(n):
                blocks.append(PreActBlock(c, w, 2 if (i == 0 and stage > 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.head = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.blocks(self.stem(x))))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build(in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> PreActResNet:
    return PreActResNet(cfg.get("depth", 56), tuple(cfg.get("widths", (16, 32, 64))), cfg.get("stem_kernel", 3),
                        num_classes)
