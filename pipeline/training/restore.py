"""A trained model rebuilt from its finished run folder, for any kind of run.

Numerics, not bookkeeping: a student's targets are its teacher's logits from the model rebuilt here, so this
file is in every student's key (the import closure of pipeline/training/run.py). The weights are checked
against the sha256 their run recorded before they are loaded (``integrity.verified``), with ``weights_only``.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..data import prepared
from ..io import load_tensors, read_json
from ..models import build_model
from .integrity import verified


def build_run_model(cfg: dict) -> nn.Module:
    """An untrained model of a run's configuration (a classifier's shape from its prepared data's meta)."""
    if cfg["arch"] == "transformer":
        return build_model("transformer", (), cfg["tgt_vocab"], cfg["model"])
    meta = read_json(prepared.paths(cfg["dataset"])[1])
    return build_model(cfg["arch"], tuple(meta["image_shape"]), meta["num_classes"], cfg["model"])


def load_model(run_dir: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode, the run's metrics.json) of a finished run of any kind; its weights are checked
    against their recorded sha256 first (a teacher whose model.pt was swapped stops its student in one line)."""
    run_dir = Path(run_dir)
    done = run_dir / "metrics.json"
    if not done.exists():
        raise FileNotFoundError(f"{run_dir} holds no finished run (no metrics.json): run `dvc repro`")
    metrics = read_json(done)
    model = build_run_model(metrics["config"])
    model.load_state_dict(load_tensors(verified(run_dir, "model.pt")))
    return model.to(device).eval(), metrics
