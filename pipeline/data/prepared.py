"""The prepared-tensor format written by the preprocess stage, and its loader.

``data/prepared/<dataset>.pt`` holds uint8 images and int64 labels for the
train, val and test splits; ``<dataset>.json`` beside it records sizes, split
seed, class names and the raw files' checksums. Loading uses
``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..io import load_tensors, read_json

PREPARED_DIR = Path("data/prepared")
SPLITS = ("train", "val", "test")


def paths(dataset: str, root: Path = PREPARED_DIR) -> tuple[Path, Path]:
    return root / f"{dataset}.pt", root / f"{dataset}.json"


def load(dataset: str, device: torch.device | str = "cpu", root: Path = PREPARED_DIR) -> tuple[dict, dict]:
    pt, meta = paths(dataset, root)
    if not pt.exists():
        raise FileNotFoundError(f"{pt} is missing: run `dvc repro preprocess` first")
    tensors = {k: v.to(device) for k, v in load_tensors(pt).items()}
    return tensors, read_json(meta)


def to_unit_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels to float in [0, 1]; no standardisation (as in the papers' MNIST runs)."""
    return x.float().div_(255)
