"""Which runs can train stacked with others, and how (pipeline/training/many.py trains them).

Kept apart from run.py on purpose: a run trained alone hashes neither this
file, nor many.py, nor the stacked models (run_key.code_roots), so extending
stacking to another model leaves every run trained alone valid.

A stacked model (pipeline/models/stacked_*.py) takes [G, B, ...] inputs, returns
[G, B, K] logits, and keeps each member parameter as one tensor with a leading
G dimension; ``stacked_names()`` maps the member's parameter names to those
tensors. Member states, stacked states and the optimiser are derived from that
map, so they are the same code for every model.
"""
from __future__ import annotations

import importlib

import torch
from torch import nn

from ..imports import PACKAGE
from .builders import build_optimizer

# By name: a stacked FCN loads (and its key hashes: run_key.code_roots) pipeline/models/stacked_fcn.py, not
# AlexNet's files.
STACKED = {"fcn": "stacked_fcn.StackedFCN", "alexnet": "stacked_alexnet.StackedAlexNet"}


def stack_models(arch: str, members: list[nn.Module]) -> nn.Module:
    module, cls = STACKED[arch].split(".")
    return getattr(importlib.import_module(f"{PACKAGE}.models.{module}"), cls)(members)


def member_state(model: nn.Module, stacked: dict[str, torch.Tensor], g: int) -> dict[str, torch.Tensor]:
    """Member g's own state dict cut from the stacked model's (copies, not views)."""
    return {m: stacked[s][g].detach().clone() for m, s in model.stacked_names().items()}


def stacked_state(model: nn.Module, members: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The stacked model's state dict from its members' (the inverse of ``member_state``)."""
    return {s: torch.stack([sd[m] for sd in members]) for m, s in model.stacked_names().items()}


def stacked_optimizer(model: nn.Module, member: nn.Module, optim_cfg: dict) -> torch.optim.SGD:
    """The member's optimiser (``build_optimizer``: per-layer rates, decayed parameters) over the stacked tensors.

    Same parameter groups with the same settings, in the same order, so a stacked
    optimiser state splits into the members' states index for index; SGD is
    element-wise, so each member is updated as it would be alone.
    """
    alone = build_optimizer(member, optim_cfg)
    name_of = {id(p): n for n, p in member.named_parameters()}
    stacked, names = dict(model.named_parameters()), model.stacked_names()
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": [stacked[names[name_of[id(p)]]]
                                                                         for p in g["params"]]}
              for g in alone.param_groups]
    return torch.optim.SGD(groups, lr=alone.defaults["lr"])
