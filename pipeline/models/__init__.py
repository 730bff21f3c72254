"""Model registry: one file per model, each exposing ``build(in_shape, num_classes, cfg)``, its ``TITLE`` and,
for a convolutional network, ``CONVNET = True``: adding a model is adding its file (and its settings and default
schedule in params.yaml, which pipeline/config/ checks against the files here).

``build_model("alexnet", ...)`` imports ``pipeline/models/alexnet.py`` by name,
and a run's key hashes only the file of its own model (pipeline/training/run_key.py):
adding or editing a model leaves the other models' runs valid. Files named
``_*.py`` are shared helpers, not models.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

MODELS = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def model_module(name: str) -> ModuleType:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return importlib.import_module(f".{name}", __package__)


def build_model(name: str, in_shape: tuple[int, ...], num_classes: int, cfg: dict) -> nn.Module:
    return model_module(name).build(tuple(in_shape), num_classes, cfg)


def is_convnet(name: str) -> bool:
    """Whether the model's file declares ``CONVNET = True``."""
    return bool(getattr(model_module(name), "CONVNET", False))


def title(name: str) -> str:
    """How tables and figures name a model: its file's ``TITLE``."""
    return getattr(model_module(name), "TITLE", name) if name in MODELS else name
