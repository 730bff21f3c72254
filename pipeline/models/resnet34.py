"""ResNet-34 (torchvision's definition) with ImageNet weights V1: the replication's CUB-200-2011 model.

Weights come from a local file (see _pretrained.py); ``pretrained: false`` trains from scratch.
"""
from __future__ import annotations

from ._pretrained import Classifier, torchvision_resnet

TITLE = "ResNet-34"  # how tables and figures name it (models.title)
CONVNET = True  # convolutions: execution.channels_last applies (training/builders.py)


def build(in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> Classifier:
    return Classifier(torchvision_resnet("resnet34", "ResNet34_Weights", "IMAGENET1K_V1", num_classes, cfg))
