"""Optimisers, schedules and devices built from plain config dicts."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..models import is_convnet


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("execution.device is 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
    return torch.device(name)


# Models with a stacked form (pipeline/training/stacking.py: STACKED), by name, so that resolving a run's
# execution (and its key) needs none of the stacking code.
STACKABLE_MODELS = ("fcn", "alexnet")


def stackable(cfg: dict) -> bool:
    """A model with a stacked form, without dropout, gradient clipping or weight snapshots
    (a global clipping norm or a snapshot would couple or single out members)."""
    return (cfg["arch"] in STACKABLE_MODELS and not cfg["model"].get("dropout") and not cfg.get("clip_grad_norm")
            and not cfg.get("snapshot_every"))
# Models whose bf16 autocast on a CPU with native bf16 matrix units was measured faster than fp32
# (benchmarks/throughput.py, rows b-fp32 and b-bf16: the FCN about 2.8x). Others stay fp32 on the CPU.
CPU_BF16_MODELS = ("fcn",)


def cpu_has_native_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (avx512_bf16 or AMX): only there is CPU bf16 faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def resolve_execution(execution: dict, device: torch.device, arch: str, stackable: bool = False) -> dict:
    """How a run executes under the ``execution`` settings, resolved for the device: part of the run's key
    (bf16 changes the numbers).

    ``precision`` auto: bf16 autocast on CUDA, and on a CPU with native bf16 for the models measured
    faster there (``CPU_BF16_MODELS``); fp32 otherwise;
    ``channels_last`` auto: the convnets on CUDA; ``compile``: ``nn.Module.compile()`` in place
    (the state dict keeps its keys); ``stack`` auto: runs that can (``stackable``) train stacked
    with the stage's other runs of the same shape on CUDA (pipeline/training/many.py). On 2 CPU
    cores stacking is slower than one model at a time (benchmarks/throughput.py, row c).
    """
    cuda, convnet = device.type == "cuda", is_convnet(arch)
    p, cl, st = (execution.get(k, "auto") for k in ("precision", "channels_last", "stack"))
    if p == "auto":
        p = "bf16" if cuda or (arch in CPU_BF16_MODELS and device.type == "cpu" and cpu_has_native_bf16()) else "fp32"
    return {"precision": p,
            "channels_last": (cuda and convnet) if cl == "auto" else bool(cl) and convnet,
            "compile": bool(execution.get("compile", False)),
            "stack": stackable and (cuda if st == "auto" else bool(st))}


def prepare_model(model: nn.Module, resolved: dict) -> nn.Module:
    """Memory format and compilation of a model about to train under ``resolved`` (``resolve_execution``)."""
    if resolved["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if resolved["compile"]:
        model.compile()
    return model


def sgd_per_layer(model: nn.Module, lrs: list[float], momentum: float, dampening: float,
                  weight_decay: float) -> torch.optim.SGD:
    """SGD with one learning rate per linear layer (in model order): the FCN's settings."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(layers) != len(lrs):
        raise ValueError(f"{len(lrs)} learning rates for {len(layers)} linear layers")
    groups = [{"params": list(m.parameters()), "lr": lr} for m, lr in zip(layers, lrs)]
    return torch.optim.SGD(groups, lr=lrs[0], momentum=momentum, dampening=dampening,
                           weight_decay=weight_decay)


def build_optimizer(model: nn.Module, o: dict) -> torch.optim.SGD:
    """SGD from a run's ``optim`` dict.

    ``lr`` a list: one rate per linear layer (FCN). ``lr`` a number: one rate,
    with weight decay on ``decay_on``: ``all`` parameters, or ``model`` (the
    parameters the model names in ``decayed_parameters()``: AlexNet's two hidden
    fc weights). SGD's weight_decay λ adds λ·W to the gradient, the gradient of
    TF's λ·½‖W‖² (``wd * tf.nn.l2_loss``).
    """
    if isinstance(o["lr"], list):
        return sgd_per_layer(model, o["lr"], o["momentum"], o.get("dampening", 0.0), o["weight_decay"])
    kw = {"momentum": o["momentum"], "dampening": o.get("dampening", 0.0), "nesterov": o.get("nesterov", False)}
    if o.get("decay_on", "all") == "all":
        return torch.optim.SGD(model.parameters(), lr=o["lr"], weight_decay=o["weight_decay"], **kw)
    decayed = {id(p) for p in model.decayed_parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) in decayed], "weight_decay": o["weight_decay"]},
              {"params": [p for p in model.parameters() if id(p) not in decayed], "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=o["lr"], **kw)


def build_schedule(optimizer: torch.optim.Optimizer, s: dict, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step learning-rate factor from a run's ``schedule`` dict.

    ``linear``: every group's lr falls linearly to 0 at the last step (FCN); with ``epoch_steps`` k it is
    constant within each epoch of k steps and 1 − e/E in epoch e of E (PyTorch's ``LinearLR(opt, 1, 0, E)``
    stepped once per epoch, the replication's: its last epoch runs at 1/E of the base rate).
    ``multistep``: multiplied by ``gamma`` at each of ``milestones`` (optimiser steps).
    """
    if s["kind"] == "linear" and s.get("epoch_steps"):
        k = s["epoch_steps"]
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: max(0.0, 1.0 - (t // k) / -(-steps // k)))
    if s["kind"] == "linear":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: max(0.0, 1.0 - t / steps))
    if s["kind"] == "multistep":
        ms, g = sorted(s["milestones"]), s["gamma"]
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: g ** sum(t >= m for m in ms))
    raise ValueError(f"schedule.kind must be 'linear' or 'multistep', not {s['kind']!r}")


def linear_decay(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return build_schedule(optimizer, {"kind": "linear"}, steps)
