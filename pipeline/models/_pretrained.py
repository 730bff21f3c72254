"""torchvision ResNets with ImageNet weights read from a local file, never downloaded at train time.

The weights are looked up, in order, in ``$PRETRAINED_DIR`` (default
``models/pretrained``) and in torch's hub cache (``$TORCH_HOME/hub/checkpoints``),
under the file name of torchvision's own URL (e.g. ``resnet34-b627a593.pth``).
Without the file the run stops with a message naming the file, the URL and
both places, unless the model config says ``pretrained: false``. The file is
loaded with ``weights_only=True``; the classifier is replaced by a fresh
layer for the dataset's classes.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..compat import import_torchvision


class MissingWeightsError(FileNotFoundError):
    pass


def weights_file(url: str) -> Path:
    name = url.rsplit("/", 1)[-1]
    places = [Path(os.environ.get("PRETRAINED_DIR", "models/pretrained")) / name,
              Path(torch.hub.get_dir()) / "checkpoints" / name]
    for p in places:
        if p.is_file():
            return p
    raise MissingWeightsError(
        f"ImageNet weights {name} not found. Download {url} and put it at {places[0]} (or {places[1]}); "
        f"or set pretrained: false in the model's params to train from scratch.")


def torchvision_resnet(name: str, weights_enum: str, weight_tag: str, num_classes: int, cfg: dict) -> nn.Module:
    """torchvision's ``name`` (resnet34, resnet50) with the weights ``weights_enum.weight_tag`` if pretrained."""
    tv = import_torchvision()
    model = getattr(tv.models, name)(weights=None)
    if cfg.get("pretrained", True):
        url = getattr(getattr(tv.models, weights_enum), weight_tag).url
        model.load_state_dict(torch.load(weights_file(url), map_location="cpu", weights_only=True))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


class Classifier(nn.Module):
    """A torchvision ResNet with ``features`` (penultimate activations) and ``head`` like every model here."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.head = net.fc
        net.fc = nn.Identity()
        self.body = net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
