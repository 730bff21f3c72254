"""Which runs can train stacked with others (pipeline/training/many.py).

Kept apart from run.py on purpose: a run trained alone hashes neither this
file nor many.py (``run.STACKING_CODE``), so extending stacking to another
model leaves every run trained alone valid.
"""
from __future__ import annotations


def stackable(cfg: dict) -> bool:
    """An FCN without dropout, clipping or snapshots, trained with per-layer SGD (``StackedFCN``)."""
    return (cfg["arch"] == "fcn" and not cfg["model"].get("dropout") and not cfg.get("clip_grad_norm")
            and not cfg.get("snapshot_every") and isinstance(cfg["optim"]["lr"], list))
