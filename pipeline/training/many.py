"""A stage's runs, trained together where they can be: same-shaped FCNs or AlexNets as one stacked model.

The α sweep and the distillation grids are tens of small FCNs and AlexNets that
cannot fill a GPU one at a time. ``train_stacked`` trains a group that
``dispatch.sort_runs`` formed (runs whose execution says ``stack`` and that share
shape, optimiser, schedule, data, input and start step) as one stacked model.

A stacked member is the run it would be alone: its own initialisation (its
seed), epoch order and augmentation draws (its own generator), loss (its α, or
its own teacher's logits) and outputs, in its own folder. The stacked loss is
the sum of the members' losses, so each member gets exactly its own gradient,
and SGD is element-wise; only the float summation order of the batched
matmuls and grouped convolutions differs from the single-model path
(tests/test_many.py; the stacked models: pipeline/training/stacking.py). Each
member's resumable state is written to its own folder in the single-run
layout, so an interrupted group resumes, whichever runs it is regrouped with.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import torch

from ..data import inputs
from ..losses import build_loss
from ..models import build_model
from .backend import Job
from .builders import build_schedule, prepare_model
from .loop import DivergenceError, EpochBatches, LoopSpec, StateFile, fit
from .run import describe, save_run, teacher_targets, training_data
from .stacking import member_state, stack_models, stacked_optimizer, stacked_state


class Generators:
    """The members' generators, saved and restored together by ``fit``."""

    def __init__(self, gens: list[torch.Generator]):
        self.gens = gens

    def get_state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.gens]

    def set_state(self, states: list[torch.Tensor]) -> None:
        for g, s in zip(self.gens, states):
            g.set_state(s)


class MemberStates:
    """A stacked group's resumable state, kept as one single-run state per member folder."""

    def __init__(self, model: torch.nn.Module, run_dirs: list[Path], keys: list[str]):
        self.model, self.keys = model, keys   # the stacked model: how its tensors map to the members'
        self.files = [StateFile(Path(d) / "state.pt") for d in run_dirs]

    def load(self, key: str) -> dict | None:
        states = [f.load(k) for f, k in zip(self.files, self.keys)]
        if any(s is None for s in states) or len({int(s["step"]) for s in states}) != 1:
            return None
        first = states[0]
        opt = first["optimizer"]
        return {"key": key, "step": first["step"], "model": stacked_state(self.model, [s["model"] for s in states]),
                "optimizer": {"param_groups": opt["param_groups"],
                              "state": {i: {n: torch.stack([s["optimizer"]["state"][i][n] for s in states])
                                            if torch.is_tensor(v) else v for n, v in st.items()}
                                        for i, st in opt["state"].items()}},
                "scheduler": first["scheduler"], "gen": [s["gen"] for s in states], "cpu_rng": first["cpu_rng"],
                **({"cuda_rng": first["cuda_rng"]} if "cuda_rng" in first else {}),
                "history": [row | {"loss": [s["history"][j]["loss"] for s in states]}
                            for j, row in enumerate(first["history"])]}

    def save(self, state: dict) -> None:
        for g, (f, k) in enumerate(zip(self.files, self.keys)):
            opt = state["optimizer"]
            f.save(state | {
                "key": k, "model": member_state(self.model, state["model"], g), "gen": state["gen"][g],
                "optimizer": {"param_groups": opt["param_groups"],
                              "state": {i: {n: v[g].clone() if torch.is_tensor(v) else v for n, v in st.items()}
                                        for i, st in opt["state"].items()}},
                "history": [row | {"loss": row["loss"][g]} for row in state["history"]]})


def train_stacked(jobs: list[Job], keys: list[str], resolved: dict, device: torch.device, execution: dict
                  ) -> list[dict]:
    """Train runs that share ``dispatch.shared_settings`` as one stacked model; write each run's folder."""
    t0 = time.time()
    cfg = jobs[0].cfg  # the shared settings; seed, loss and teacher are each member's own
    data, meta, x, y = training_data(cfg, device)
    teachers, by_key = [], {}
    for j in jobs:  # Figure 7's M3 students share a teacher (its key names it): its logits once
        k = j.cfg.get("teacher")
        if k not in by_key:
            by_key[k] = teacher_targets(j.cfg, j.teacher_dir, x, device)
        teachers.append(by_key[k])
    members = []
    for j in jobs:
        torch.manual_seed(j.cfg["seed"])  # the initialisation it would have alone
        members.append(build_model(cfg["arch"], tuple(x.shape[1:]), meta["num_classes"], cfg["model"]))
    model = stack_models(cfg["arch"], members).to(device)
    # channels_last is applied inside, to the convolutions' 4-D views: stacked weights are 5-D
    model.channels_last = resolved["channels_last"]
    model = prepare_model(model, resolved | {"channels_last": False})
    optimizer = stacked_optimizer(model, members[0], cfg["optim"])
    scheduler = build_schedule(optimizer, cfg["schedule"], cfg["steps"])
    gens = Generators([torch.Generator(device=device).manual_seed(j.cfg["seed"]) for j in jobs])
    batches = [EpochBatches(len(x), cfg["batch_size"], j.cfg["seed"], device) for j in jobs]
    losses = [build_loss(j.cfg["loss"]) for j in jobs]
    picked: list = []

    def batch_fn(step, g):
        idx = [b(step) for b in batches]
        picked[:] = [t[i] if t is not None else None for t, i in zip(teachers, idx)]
        return (torch.stack([inputs.train_batch(x[i], cfg["input"], gen) for i, gen in zip(idx, g.gens)]),
                torch.stack([y[i] for i in idx]))

    def loss_fn(z, ys):  # [G] losses: fit differentiates their sum
        return torch.stack([f(z[k], ys[k], picked[k]) for k, f in enumerate(losses)])

    group_key = hashlib.sha256(" ".join(keys).encode()).hexdigest()[:16]
    spec = LoopSpec(steps=cfg["steps"], log_every=execution["log_every"],
                    checkpoint_every=execution["checkpoint_every"], key=group_key,
                    describe=f"{cfg['dataset']} {cfg['arch']} ×{len(jobs)} stacked",
                    bf16=resolved["precision"] == "bf16")
    try:
        history = fit(model, optimizer, scheduler, loss_fn, batch_fn, gens, spec,
                      state=MemberStates(model, [j.run_dir for j in jobs], keys))
    except DivergenceError as e:
        names = "; ".join(f"{k}: {describe(j.cfg)}" for k, j in enumerate(jobs))
        raise DivergenceError(f"{e} The stacked runs: {names}.") from e
    seconds = round(time.time() - t0, 1)
    state = model.state_dict()
    out = []
    for g, j in enumerate(jobs):
        members[g].load_state_dict(member_state(model, state, g))
        curve = [row | {"loss": row["loss"][g]} for row in history]
        m = save_run(j.run_dir, members[g].to(device), data, j.cfg, keys[g], resolved, curve,
                     execution["eval_batch_size"])
        out.append(m | {"reused": False, "seconds": seconds, "stacked_with": len(jobs)})
    return out
