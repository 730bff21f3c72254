"""Run configurations shared by every stage that trains a classifier.

A config is a plain dict holding everything that determines a run's result;
its hash is part of the run's key (pipeline/training/run_key.py). ``classifier_config``
builds one for any model of Tables 2 and 3 from its params section;
``fcn_run_config`` is the FCN case with explicit widths (teachers, students).
"""
from __future__ import annotations

import math
from functools import lru_cache

from .data import inputs, prepared
from .io import load_tensors, read_json


def label_smoothing(alpha: float, scale: float = 1.0) -> dict:
    """Cross-entropy against y(1−α) + α/K, times ``scale`` (Müller's convnets: CE × 3)."""
    out = {"kind": "label_smoothing", "alpha": float(alpha)}
    return out | ({"scale": float(scale)} if scale != 1.0 else {})


def logit_regression(ce_weight: float, regress_on: str, squared_error: str = "half_sum") -> dict:
    out = {"kind": "logit_regression", "ce_weight": ce_weight, "regress_on": regress_on}
    return out | ({"squared_error": squared_error} if squared_error != "half_sum" else {})


def soft_targets(beta: float, temperature: float, scale: float = 1.0) -> dict:
    """Müller's Eq. 2, times ``scale`` (the student's own loss scale: AlexNet's × 3)."""
    out = {"kind": "soft_targets", "beta": beta, "temperature": float(temperature)}
    return out | ({"scale": float(scale)} if scale != 1.0 else {})


def _n_train(p: dict, dataset: str) -> int:
    n = read_json(prepared.paths(dataset)[1])["sizes"]["train"]
    cap = p["active"]["max_train_examples"]
    return min(n, cap) if cap else n


def fcn_run_config(p: dict, dataset: str, seed: int, *, hidden: list[int], dropout: float, max_shift: int,
                   loss: dict, teacher: str | None = None, lr: list[float] | None = None) -> dict:
    """An FCN run with the `fcn` optimiser settings (or other per-layer ``lr``) and the profile's schedule.

    The schedule is in optimiser steps: epochs × ⌈n_train / batch⌉ with the real
    training-split size (or the profile's subset).
    """
    f, b = p["fcn"], p["active"]
    epoch_steps = math.ceil(_n_train(p, dataset) / f["batch_size"])
    # The replication's choices enter a run's configuration only where they are set, so a run with the
    # defaults keeps the configuration (and key) it had before they existed.
    model = {"hidden": list(hidden), "dropout": dropout, "init_std": f["init_std"]}
    model |= {"bias_std": f["bias_init_std"]} if f["bias_init_std"] else {}
    shift = {"augment": "shift", "max_shift": max_shift, "standardize": "none"}
    shift |= {"shift_draw": f["shift_draw"]} if f["shift_draw"] != "uniform" and max_shift else {}
    return {"arch": "fcn", "dataset": dataset, "seed": seed, "loss": loss, "teacher": teacher,
            "model": model,
            "optim": {"lr": list(lr or f["lr"]), "momentum": f["momentum"], "dampening": f["dampening"],
                      "weight_decay": f["weight_decay"]},
            "schedule": {"kind": "linear"} | ({"epoch_steps": epoch_steps} if f["lr_decay"] == "per_epoch" else {}),
            "input": shift,
            "batch_size": f["batch_size"], "epochs": b["fcn_epochs"], "steps": b["fcn_epochs"] * epoch_steps,
            "max_train_examples": b["max_train_examples"]}


@lru_cache(maxsize=None)
def _channel_stats(dataset: str) -> tuple[list[float], list[float]]:
    mean, std = inputs.channel_stats(load_tensors(prepared.paths(dataset)[0])["train_x"])
    return [round(v, 6) for v in mean], [round(v, 6) for v in std]


def _input_config(c: dict, dataset: str) -> dict:
    cfg = dict(c["input"])
    if cfg["standardize"] == "per_channel":  # fixed statistics of this dataset's training split
        mean, std = _channel_stats(dataset)
        cfg |= {"mean": mean, "std": std}
    return cfg


def convnet_config(p: dict, arch: str, dataset: str, seed: int, loss: dict, teacher: str | None = None) -> dict:
    """A run of ``arch`` (a section of ``convnets``) with the profile's schedule for it.

    Schedules are in optimiser steps, as Müller gives them; a schedule given in
    epochs (the replication's ResNet-34/50) is converted with the real size of
    the training split, never an assumed one.
    """
    c, s = p["convnets"][arch], p["active"]["schedules"][arch]
    per_epoch = math.ceil(_n_train(p, dataset) / c["batch_size"]) if s["unit"] == "epochs" else 1
    return {"arch": arch, "dataset": dataset, "seed": seed, "loss": loss, "teacher": teacher,
            "model": dict(c["model"]), "optim": dict(c["optim"]),
            "schedule": {"kind": "multistep", "milestones": [m * per_epoch for m in s["milestones"]],
                         "gamma": c["lr_gamma"]},
            "input": _input_config(c, dataset), "batch_size": c["batch_size"],
            "steps": s["length"] * per_epoch, "clip_grad_norm": c["clip_grad_norm"],
            "snapshot_every": s["snapshot_every"], "max_train_examples": p["active"]["max_train_examples"]}


def classifier_config(p: dict, arch: str, dataset: str, seed: int, alpha: float) -> dict:
    """The Table 2/3 run of ``arch`` on ``dataset`` with label smoothing ``alpha``."""
    if arch == "fcn":
        f = p["fcn"]
        return fcn_run_config(p, dataset, seed, hidden=f["hidden"], dropout=f["dropout"], max_shift=f["max_shift"],
                              loss=label_smoothing(alpha))
    return convnet_config(p, arch, dataset, seed, label_smoothing(alpha, p["convnets"][arch]["loss_scale"]))


# Figures 7 and 8 (which ones a profile runs: config.distill_figures): teachers at each α of the profile and the
# students distilled from them.
def sweep_teacher_config(p: dict, setup: dict, alpha: float, seed: int) -> dict:
    if setup["teacher"] == "fcn":  # Figure 7: the FCN 1200-1200 teachers of Table 4, with shifts
        d = p["distill"]
        dropout = d["figure7"]["hard_teacher_dropout"] if alpha == 0 else 0.0  # the replication's: 0.5 at α = 0
        return fcn_run_config(p, setup["dataset"], seed, hidden=d["teacher_hidden"], dropout=dropout,
                              max_shift=d["teacher_max_shift"], loss=label_smoothing(alpha))
    return classifier_config(p, setup["teacher"], setup["dataset"], seed, alpha)


def student_loss_scale(p: dict, setup: dict) -> float:
    return 1.0 if setup["student"] == "fcn" else p["convnets"][setup["student"]]["loss_scale"]


def student_config(p: dict, setup: dict, seed: int, loss: dict, teacher: str | None = None) -> dict:
    if setup["student"] == "fcn":  # Figure 7: FCN 800-800 without augmentation or dropout
        d = p["distill"]
        return fcn_run_config(p, setup["dataset"], seed, hidden=d["student_hidden"], dropout=0.0,
                              max_shift=d["student_max_shift"], loss=loss, teacher=teacher)
    return convnet_config(p, setup["student"], setup["dataset"], seed, loss, teacher)
