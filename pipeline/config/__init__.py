"""The params schema, owned by the code, and the loader every stage calls first.

``load_params()`` reads params.yaml, checks every key against SCHEMA (unknown
keys are errors too), runs the cross-field checks, and returns the params with
the active profile resolved under ``params["active"]``. Any problem raises
ParamError naming the key, the value and what is allowed, before any work.
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from . import checks, yaml12
from .schema import SCHEMA, ParamError

__all__ = ["ParamError", "ParamsFileError", "alphas_to_train", "classifiers", "load_params", "validate"]


def validate(params: dict) -> dict:
    """Validate raw params and return a copy with the active profile resolved."""
    SCHEMA("", params)
    out = copy.deepcopy(params)
    checks.fill_classifiers(out)
    checks.check_all(out)
    out["active"] = copy.deepcopy(out["profiles"][out["profile"]])
    return out


class ParamsFileError(ValueError):
    """params.yaml is missing or is not YAML."""


def load_params(path: str | Path = "params.yaml") -> dict:
    """Validated params with the active profile under ``active``; also checks that the device asked for exists."""
    try:
        with open(path) as f:
            raw = yaml12.load(f)
    except OSError as e:
        raise ParamsFileError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ParamsFileError(f"{path} is not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
    p = validate(raw if raw is not None else {})
    if p["execution"]["device"] == "cuda" and p["execution"]["backend"] != "slurm":  # slurm: the nodes' GPUs
        import torch
        if not torch.cuda.is_available():
            raise ParamError("execution.device", "cuda", "auto or cpu: no CUDA device is visible on this machine")
    return p


def alphas_to_train(p: dict, arch: str = "fcn") -> list[float]:
    """{0} ∪ sweep ∪ {alpha}, sorted, for the profile's ``sweep_models``; {0, alpha} for the others."""
    if arch not in p["active"]["sweep_models"]:
        return sorted({0.0, float(p["alpha"])})
    return sorted({0.0, float(p["alpha"]), *map(float, p["sweep"])})


def classifiers(p: dict) -> list[tuple[str, str]]:
    """(model, dataset) of every Table 2/3 row of the active profile, in params order."""
    return [(arch, ds) for arch, datasets in p["active"]["classifiers"].items() for ds in datasets]


def distill_figures(p: dict) -> dict[str, dict]:
    """{figure: setup} for the figures the active profile runs: Figure 7 (MNIST, FCN → FCN) always,
    Figure 8 (CIFAR-10, ResNet-56 → AlexNet) where the profile names its dataset."""
    d = p["distill"]
    out = {"figure7": {"dataset": d["dataset"], "teacher": "fcn", "student": "fcn", "beta": d["figure7"]["beta"]}}
    if p["active"]["figure8_dataset"]:
        f8 = d["figure8"]
        out["figure8"] = {"dataset": p["active"]["figure8_dataset"], "teacher": p["active"]["figure8_teacher"],
                          "student": f8["student"], "beta": f8["beta"]}
    return out
