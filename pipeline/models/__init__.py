"""Model registry: one file per model, each exposing ``build(in_shape, num_classes, cfg)``.

``build_model("alexnet", ...)`` imports ``pipeline/models/alexnet.py`` by name,
and a run's key hashes only the file of its own model (pipeline/training/run_key.py):
adding or editing a model leaves the other models' runs valid. Files named
``_*.py`` are shared helpers, not models.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from torch import nn

MODELS = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def build_model(name: str, in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return importlib.import_module(f".{name}", __package__).build(tuple(in_shape), num_classes, cfg)


TITLES = {"fcn": "FCN", "alexnet": "AlexNet", "resnet56": "ResNet-56", "resnet34": "ResNet-34",
          "resnet50": "ResNet-50", "transformer": "Transformer"}


def title(name: str) -> str:
    """How tables and figures name a model."""
    return TITLES.get(name, name)
