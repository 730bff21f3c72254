"""Rebuild a trained model from its run folder (config + state dict, loaded weights_only)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .data import prepared
from .io import load_tensors, read_json
from .models import build_model


def load_run_model(run_dir: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode, the run's metrics.json) for a finished run."""
    run_dir = Path(run_dir)
    done = run_dir / "metrics.json"
    if not done.exists():
        raise FileNotFoundError(f"{run_dir} holds no finished run (no metrics.json): run `dvc repro train`")
    metrics = read_json(done)
    cfg = metrics["config"]
    meta = read_json(prepared.paths(cfg["dataset"])[1])
    model = build_model(cfg.get("arch", "fcn"), tuple(meta["image_shape"]), meta["num_classes"], cfg["model"])
    model.load_state_dict(load_tensors(run_dir / "model.pt"))
    return model.to(device).eval(), metrics
