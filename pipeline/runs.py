"""Run configurations shared by the stages that train FCNs (Table 2, teachers, students).

A config is a plain dict holding everything that determines a run's result;
its hash is the run's key (pipeline/training/run.py).
"""
from __future__ import annotations

import math

from .data import prepared
from .io import read_json


def label_smoothing(alpha: float) -> dict:
    return {"kind": "label_smoothing", "alpha": float(alpha)}


def logit_regression(ce_weight: float, regress_on: str) -> dict:
    return {"kind": "logit_regression", "ce_weight": ce_weight, "regress_on": regress_on}


def soft_targets(beta: float, temperature: float) -> dict:
    return {"kind": "soft_targets", "beta": beta, "temperature": float(temperature)}


def fcn_run_config(p: dict, dataset: str, seed: int, *, hidden: list[int], dropout: float, max_shift: int,
                   loss: dict, teacher: str | None = None, lr: list[float] | None = None) -> dict:
    """An FCN run with the `fcn` optimiser settings (or other per-layer ``lr``) and the profile's schedule.

    The schedule is in optimiser steps: epochs × ⌈n_train / batch⌉ with the real
    training-split size (or the profile's subset).
    """
    f, b = p["fcn"], p["budget"]
    n_train = read_json(prepared.paths(dataset)[1])["sizes"]["train"]
    if b["max_train_examples"]:
        n_train = min(n_train, b["max_train_examples"])
    return {"arch": "fcn", "dataset": dataset, "seed": seed, "loss": loss, "teacher": teacher,
            "model": {"hidden": list(hidden), "dropout": dropout, "init_std": f["init_std"]},
            "optim": {"lr": list(lr or f["lr"]), "momentum": f["momentum"], "dampening": f["dampening"],
                      "weight_decay": f["weight_decay"]},
            "batch_size": f["batch_size"], "max_shift": max_shift,
            "epochs": b["fcn_epochs"], "steps": b["fcn_epochs"] * math.ceil(n_train / f["batch_size"]),
            "max_train_examples": b["max_train_examples"]}
