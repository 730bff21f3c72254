"""ResNet-50 (torchvision's definition) with ImageNet weights V2: the replication's Tiny ImageNet model.

Weights come from a local file (see _pretrained.py); ``pretrained: false`` trains from scratch.
"""
from __future__ import annotations

from ._pretrained import Classifier, torchvision_resnet

TITLE = "ResNet-50"  # how tables and figures name it (models.title)
CONVNET = True  # convolutions: execution.channels_last applies (training/builders.py)


def build(in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> Classifier:
    return Classifier(torchvision_resnet("resnet50", "ResNet50_Weights", "IMAGENET1K_V2", num_classes, cfg))
