"""A stage's runs, trained together where they can be: same-shaped FCNs or AlexNets as one stacked model.

The α sweep and the distillation grids are tens of small FCNs and AlexNets that
cannot fill a GPU one at a time. ``train_inline`` (the inline backend of
``backend.train_runs`` for classifiers) reuses finished runs, trains those whose
execution says ``stack`` (``execution.stack``; auto: on CUDA) in groups that share
shape, optimiser, schedule, data, input and start step (at most
``execution.stack_max`` a group), and every other run alone with ``train_run``.

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
import json
import os
import time
from pathlib import Path

import torch

from ..data import inputs
from ..io import read_json
from ..layout import RUN_ROOTS
from ..losses import build_loss
from ..models import build_model
from .backend import Job, Trainer
from .builders import build_schedule, prepare_model
from .loop import DivergenceError, EpochBatches, LoopSpec, StateFile, fit
from .run import describe, save_run, teacher_targets, train_run, training_data
from .run_folder import FINISHED, locked, prepare, status
from .run_key import run_key
from .stacking import member_state, stack_models, stacked_optimizer, stacked_state


def train_inline(jobs: list[Job], device: torch.device, execution: dict) -> list[dict]:
    """Every job's metrics, in the jobs' order (each with ``reused``), trained in this process.

    Each run folder is locked while the stage holds it (``run_folder.locked``).
    """
    with locked([j.run_dir for j in jobs]):
        results = _train_runs(jobs, device, execution)
    log_wall_times(jobs, results, device)
    return results


def log_wall_times(jobs: list[Job], results: list[dict], device: torch.device) -> None:
    """Append each trained run's wall time to $PIPELINE_RUN_LOG (JSON lines), where it is set.

    Run folders hold only deterministic bytes, so wall times live outside them; the
    results snapshots (tools/results.py) read them from this log.
    """
    log = os.environ.get("PIPELINE_RUN_LOG")
    if not log:
        return
    with open(log, "a") as f:
        for j, m in zip(jobs, results):
            if not m.get("reused"):
                f.write(json.dumps({"run_dir": str(j.run_dir), "key": m["key"], "seconds": m.get("seconds"),
                                    "stacked_with": m.get("stacked_with", 1), "device": str(device),
                                    "torch": torch.__version__}) + "\n")


def sort_runs(jobs: list[Job], device: torch.device, execution: dict, read_only: bool = False
              ) -> tuple[dict[int, dict], list[list[tuple[int, str, dict]]], list[int]]:
    """(metrics of the finished runs by index, stacked groups of (index, key, execution) of at most
    ``execution.stack_max`` runs, indices of the runs to train alone). The one place runs are grouped: the
    inline trainer trains these groups (its folders locked; each prepared for its key), and a backend hands the
    same groups to its workers (``read_only``: only each folder's status is read, since the workers hold the
    locks, and a folder a running worker writes must not be cleared from here)."""
    done: dict[int, dict] = {}
    groups: dict[tuple[str, int], list[tuple[int, str, dict]]] = {}
    alone = []
    for i, job in enumerate(jobs):
        key, resolved = run_key(job.cfg, device, execution)
        if read_only:
            done_now = status(job.run_dir, key) == FINISHED
            finished_run = read_json(Path(job.run_dir) / "metrics.json") if done_now else None
        else:
            finished_run = prepare(job.run_dir, key, describe(job.cfg), RUN_ROOTS)
        if finished_run is not None:
            done[i] = finished_run | {"reused": True}
        elif resolved["stack"]:
            saved = StateFile(Path(job.run_dir) / "state.pt").load(key)
            start = int(saved["step"]) if saved else 0
            groups.setdefault((shared_settings(job.cfg), start), []).append((i, key, resolved))
        else:
            alone.append(i)
    size = execution.get("stack_max", 16)
    return done, [m[c:c + size] for m in groups.values() for c in range(0, len(m), size)], alone


def _train_runs(jobs: list[Job], device: torch.device, execution: dict) -> list[dict]:
    results, chunks, alone = sort_runs(jobs, device, execution)
    for chunk in chunks:
        for (i, _, _), m in zip(chunk, train_stacked([jobs[i] for i, _, _ in chunk], [k for _, k, _ in chunk],
                                                     chunk[0][2], device, execution)):
            results[i] = m
    for i in alone:
        job = jobs[i]
        results[i] = train_run(job.run_dir, job.cfg, device, execution, teacher_dir=job.teacher_dir)
    return [results[i] for i in range(len(jobs))]


def pending_units(jobs: list[Job], device: torch.device, execution: dict) -> list[list[int]]:
    """The backend's ``pending``: indices of the runs still to train, as the units a worker trains at once."""
    _, chunks, alone = sort_runs(jobs, device, execution, read_only=True)
    return [[i for i, _, _ in chunk] for chunk in chunks] + [[i] for i in alone]


def shared_settings(cfg: dict) -> str:
    """What stacked members must have in common: everything but seed, loss and teacher."""
    return json.dumps({k: v for k, v in cfg.items() if k not in ("seed", "loss", "teacher")}, sort_keys=True)


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
    """Train runs that share ``shared_settings`` as one stacked model; write each run's folder."""
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


CLASSIFIER_TRAINER = Trainer(train=train_inline, pending=pending_units)
