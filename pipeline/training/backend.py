"""Where a stage's runs train: in the stage's own process, in worker processes, or on a SLURM cluster.

``execution.backend`` (params.yaml):
  inline  every run in the stage's process, one after another (the trainer's own ``train``);
  local   the pending runs in parallel worker processes on this machine, one per visible GPU
          (``execution.local.workers``), each with its own ``CUDA_VISIBLE_DEVICES``;
  slurm   the pending runs as one SLURM job array (``execution.slurm``: partition, GPUs, CPUs,
          memory, time limit, array parallelism, extra sbatch options).
local and slurm go through submitit. The stage stays one DVC stage: it finds the pending runs
(finished runs are reused by key; runs that stack are one unit, grouped as the inline trainer
groups them), submits them, shows done / running / failed, blocks until every job has ended, and
then trains all its runs inline as an inline stage would, which now only
verifies and reuses them, so the stage's outputs are the inline ones. A job that fails or ends
without finishing its runs is named with its runs and log; the stage then fails with that list,
keeping every finished run, and a rerun submits only what is missing. Ctrl-C cancels the jobs.
Run folders, data and the job folder (``execution.jobs_dir``) must be on a filesystem the
workers share. Nothing here changes what a run computes: not part of any run key.

One backend for every kind of run: a ``Trainer`` says how to train a list of runs inline and which runs are
still to train (as units); whether a folder holds its finished run is one question for every kind
(``finished``: the run's key, run_key.py, and its folder's status, run_folder.py). The classifiers' trainer is
training.dispatch.CLASSIFIER_TRAINER, the Transformer's text.translation_run.TRANSLATION_TRAINER (so
``train_translation`` runs on SLURM too). This module knows neither: it only moves units to workers and waits.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..allocator import keep_freed_memory
from ..imports import ROOT
from .builders import resolve_device
from .run_folder import FINISHED, status
from .run_key import run_key

UNSEEN_GRACE_S = 120  # a job never seen in squeue this long after submission counts as ended


class BackendError(RuntimeError):
    """Jobs of a local or SLURM backend failed; the message names their runs and logs."""


@dataclass
class Job:
    """One run a stage asks for: its folder, config and (for a student) its teacher's folder."""
    run_dir: Path
    cfg: dict
    teacher_dir: Path | None = None


@dataclass(frozen=True)
class Trainer:
    """How the backend handles one kind of run. Top-level functions only: a worker receives it pickled.

    ``train(jobs, device, execution)``: every job's metrics in order, training what is missing, in this process;
    ``pending(jobs, device, execution)``: indices of the runs still to train, grouped as a worker trains them.
    """
    train: Callable[[list[Job], torch.device, dict], list[dict]]
    pending: Callable[[list[Job], torch.device, dict], list[list[int]]]


def finished(job: Job, device: torch.device, execution: dict) -> bool:
    """Read-only, for any kind of run: the job's folder holds the intact finished run of its configuration."""
    return status(job.run_dir, run_key(job.cfg, device, execution)[0]) == FINISHED


def stage_device(execution: dict) -> torch.device:
    """The device the runs train on (and their keys are computed for). Under SLURM that is the
    compute nodes' device, which the submitting machine (a login node) need not have."""
    if execution.get("backend", "inline") == "slurm":
        d = execution["device"]
        if d == "auto":
            d = "cuda" if execution["slurm"]["gpus_per_job"] > 0 else "cpu"
        return torch.device(d)
    return resolve_device(execution["device"])


def local_device(execution: dict) -> torch.device:
    """The device for the stage's own work after training (evaluations): under SLURM the submitting
    machine's, CUDA where it has it; otherwise the runs' device."""
    if execution.get("backend", "inline") == "slurm":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return resolve_device(execution["device"])


def train_runs(jobs: list[Job], device: torch.device, execution: dict, trainer: Trainer) -> list[dict]:
    """Every job's metrics, in order, whichever backend trained them (``trainer``: the kind of run)."""
    backend, seconds = execution.get("backend", "inline"), {}
    if backend != "inline":
        units = trainer.pending(jobs, device, execution)
        if units:
            seconds = run_units([[jobs[i] for i in u] for u in units], device, execution, backend, trainer)
    results = trainer.train(jobs, device, execution)
    for job, m in zip(jobs, results):  # trained by a worker just now: not a reused run
        if str(job.run_dir) in seconds:
            m |= {"reused": False, "seconds": seconds[str(job.run_dir)]}
    return results


def train_share(cwd: str, units: list[list[Job]], device_type: str, execution: dict, trainer: Trainer) -> None:
    """A worker's part (runs in the worker process): its units one after another."""
    keep_freed_memory()  # as a stage does (pipeline/stage.py): the worker process trains
    os.chdir(cwd)
    device = torch.device(device_type)
    failed = []
    for unit in units:
        try:
            trainer.train(unit, device, execution | {"backend": "inline"})
        except Exception as e:  # noqa: BLE001 - the other units still train; the job fails at the end
            print(f"error: {', '.join(str(j.run_dir) for j in unit)}: {type(e).__name__}: {e}", file=sys.stderr,
                  flush=True)
            failed.append(unit)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(units)} units failed (see the lines starting with 'error:')")


@contextmanager
def package_importable():
    """While jobs are submitted, PYTHONPATH names this package's folder: a worker (a local process, or a SLURM
    job, which inherits the submitting environment) unpickles its task before it can change directory, and the
    stage's working directory need not hold the package."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([before] if before else []))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def run_units(units: list[list[Job]], device: torch.device, execution: dict, backend: str, trainer: Trainer
              ) -> dict[str, float]:
    """Submit the units, wait for them; {run folder: seconds from submission to its job's end}."""
    import submitit
    folder = Path(execution.get("jobs_dir", ".submitit")) / time.strftime("%Y%m%d-%H%M%S")
    cwd = os.getcwd()
    submitted: list[tuple[object, list[Job]]] = []
    with package_importable():
        if backend == "local":
            gpus = torch.cuda.device_count() if device.type == "cuda" else 0
            w = execution["local"]["workers"]
            n = max(1, gpus) if w == "auto" else int(w)
            ex = submitit.LocalExecutor(folder=folder)
            for k in range(min(n, len(units))):
                share = units[k::n]
                ex.update_parameters(timeout_min=execution["local"]["time_min"],
                                     **({"visible_gpus": (k % gpus,), "gpus_per_node": 1} if gpus else {}))
                submitted.append((ex.submit(train_share, cwd, share, device.type, execution, trainer),
                                  [j for u in share for j in u]))
        else:
            s = execution["slurm"]
            ex = submitit.SlurmExecutor(folder=folder)
            ex.update_parameters(job_name="labelsmoothing", time=s["time_min"], cpus_per_task=s["cpus_per_job"],
                                 mem=f"{s['mem_gb']}GB", array_parallelism=s["array_parallelism"],
                                 **({"partition": s["partition"]} if s["partition"] else {}),
                                 **({"gpus_per_node": s["gpus_per_job"]} if s["gpus_per_job"] else {}),
                                 additional_parameters=dict(s["extra"]))
            with ex.batch():
                submitted = [(ex.submit(train_share, cwd, [u], device.type, execution, trainer), u) for u in units]
    print(f"{backend}: {len(submitted)} job(s) for {sum(len(u) for u in units)} run(s); logs in {folder}", flush=True)
    return wait(submitted, backend, device, execution)


def _live_slurm_jobs() -> set[str] | None:
    r = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    return set(r.stdout.split()) if r.returncode == 0 else None


def wait(submitted: list, backend: str, device: torch.device, execution: dict) -> dict[str, float]:
    """Block until every job has ended, printing done / running / failed; then name the failures.
    Returns {run folder: seconds from submission until its job was seen to end (queueing included)}."""
    ended: dict[int, bool] = {}
    t0, seconds, seen = time.time(), {}, set()
    last = None
    try:
        while len(ended) < len(submitted):
            live = _live_slurm_jobs() if backend == "slurm" else None
            for n, (job, runs) in enumerate(submitted):
                if n in ended:
                    continue
                if backend == "local":
                    over = job.done()
                elif live is None:
                    over = False  # squeue did not answer: ask again
                elif job.job_id in live:
                    seen.add(n)
                    over = False
                else:  # left the queue, or (never seen) not listed by this squeue for too long
                    over = n in seen or time.time() - t0 > UNSEEN_GRACE_S
                if over:
                    ended[n] = all(finished(j, device, execution) for j in runs)
                    seconds |= {str(j.run_dir): round(time.time() - t0, 1) for j in runs}
            ok = sum(ended.values())
            status = f"{ok} done, {len(ended) - ok} failed, {len(submitted) - len(ended)} running or pending"
            if status != last:
                print(f"{backend}: {status}", flush=True)
                last = status
            if len(ended) < len(submitted):
                time.sleep(2)
    except KeyboardInterrupt:
        for job, _ in submitted:
            job.cancel(check=False)
        print(f"{backend}: interrupted; cancelled {len(submitted) - len(ended)} job(s)", file=sys.stderr)
        raise
    failed = [(job, runs) for n, (job, runs) in enumerate(submitted) if not ended[n]]
    if failed:
        lines = []
        for job, runs in failed:
            todo = [str(j.run_dir) for j in runs if not finished(j, device, execution)]
            lines.append(f"job {job.job_id} ({', '.join(todo)}): log {job.paths.stderr}")
        raise BackendError(f"{len(failed)} of {len(submitted)} {backend} job(s) did not finish their runs; the "
                           "finished runs are kept and a rerun submits only the rest: " + "; ".join(lines))
    return seconds

