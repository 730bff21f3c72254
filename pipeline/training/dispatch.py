"""A stage's classifier runs: reused, grouped and handed to their trainer (the classifiers' inline backend).

``train_inline`` (the inline backend of ``backend.train_runs`` for classifiers) reuses finished runs, trains those
whose execution says ``stack`` (``execution.stack``; auto: on CUDA) in groups that share shape, optimiser,
schedule, data, input and start step (at most ``execution.stack_max`` a group) with ``many.train_stacked``, and
every other run alone with ``run.train_run``. ``sort_runs`` is the one place runs are grouped; a backend hands its
workers the same groups (``pending_units``).

Bookkeeping (run_key.BOOKKEEPING): this file computes nothing a run's numbers depend on. A run trained alone
loads neither many.py nor the stacking code, and its key hashes neither.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..io import read_json
from ..layout import RUN_ROOTS
from .backend import Job, Trainer
from .loop import StateFile
from .run import describe, train_run
from .run_folder import FINISHED, locked, prepare, status
from .run_key import run_key

__all__ = ["CLASSIFIER_TRAINER", "Job", "pending_units", "sort_runs", "train_inline"]


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
    if chunks:
        from .many import train_stacked  # the stacked recipe, loaded only where runs stack
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


CLASSIFIER_TRAINER = Trainer(train=train_inline, pending=pending_units)
