"""One translation run: its configuration, identity, reuse, resume, training and saved outputs.

The Transformer trains in the same generic loop as every classifier
(pipeline/training/loop.py: seeded epochs, no per-step host sync, divergence
guard, atomic resumable states); only the batches, the loss and the optimiser
(Adam, as in the PyTorch translation tutorial the replication used) differ.
A run's key hashes its configuration, the encoded data and the code below, so
an unchanged run is reused and an interrupted one resumes (as in
pipeline/training/run.py), with the same integrity rules (pipeline/training/integrity.py):
every output file's sha256 is recorded and checked before a run is reused. ``TRANSLATION_TRAINER`` hands the runs to
the execution backend (pipeline/training/backend.py), so they train inline, on local workers or on SLURM as
the classifiers do.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from ..io import load_tensors, read_json, save_tensors, tree_digest, write_json
from ..layout import TOKENIZED
from ..models import build_model
from ..training import builders
from ..training.backend import Job, Trainer
from ..training.builders import build_schedule, prepare_model
from ..training.integrity import damaged, metrics_problem, output_digests, reuse_or_clear, run_locks, seal
from ..training.loop import LoopSpec, fit
from . import batches as B
from .metrics import sequence_ce, teacher_forced_logits, token_metrics

DATA_FILE = TOKENIZED / "multi30k.pt"  # the tokenize stage's output
CODE = ["pipeline/training/loop.py", "pipeline/training/builders.py", "pipeline/text/translation_run.py",
        "pipeline/text/batches.py", "pipeline/text/metrics.py", "pipeline/models/transformer.py",
        "pipeline/models/__init__.py"]


def translation_config(p: dict, alpha: float, seed: int, vocab: dict, train_pairs: int) -> dict:
    """The JSON-able description of one run: shared settings (``translation``) + the profile's sizes."""
    t, prof = p["translation"], p["active"]["translation"]
    per_epoch = -(-train_pairs // t["batch_size"])
    return {"arch": "transformer", "dataset": "multi30k", "alpha": float(alpha), "seed": seed,
            "epochs": prof["epochs"], "steps": prof["epochs"] * per_epoch, "batch_size": t["batch_size"],
            "eval_batch_size": t["eval_batch_size"],
            "model": {**prof["model"], "dropout": t["dropout"], "init": t["init"], "src_vocab": vocab["en"]},
            "tgt_vocab": vocab["de"], "optim": {"lr": prof["lr"], **t["adam"]}}


def run_key(cfg: dict, data_file: Path, ex: dict) -> str:
    h = hashlib.sha256(json.dumps(cfg | {"execution": ex}, sort_keys=True).encode())
    h.update(hashlib.sha256(Path(data_file).read_bytes()).digest())
    h.update(tree_digest([Path(c) for c in CODE]).encode())
    return h.hexdigest()[:16]


def build(cfg: dict) -> torch.nn.Module:
    return build_model("transformer", (), cfg["tgt_vocab"], cfg["model"])


def load_model(run_dir: Path, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, metrics.json) of a finished run; weights loaded with weights_only."""
    done = Path(run_dir) / "metrics.json"
    if not done.exists():
        raise FileNotFoundError(f"{run_dir} holds no finished run: run `dvc repro train_translation`")
    metrics = read_json(done)
    model = build(metrics["config"])
    model.load_state_dict(load_tensors(Path(run_dir) / "model.pt"))
    return model.to(device).eval(), metrics


def describe(cfg: dict) -> str:
    return f"multi30k transformer alpha={cfg['alpha']:g} seed={cfg['seed']}"


def train_translation(run_dir: Path, cfg: dict, data_file: Path, device: torch.device, train_cfg: dict) -> dict:
    """Train (or reuse, or resume) one Transformer; return its metrics (teacher-forced, T = 1)."""
    run_dir = Path(run_dir)
    ex = builders.execution(train_cfg, device, "transformer")
    key = run_key(cfg, data_file, ex)
    finished = reuse_or_clear(run_dir, key, describe(cfg))
    if finished is not None:
        return finished | {"reused": True}
    state = run_dir / "state.pt"

    t0 = time.time()
    data = {s: B.to_device(v, device) for s, v in load_tensors(data_file).items()}
    torch.manual_seed(cfg["seed"])  # initialisation and dropout
    model = prepare_model(build(cfg).to(device), ex)
    o = cfg["optim"]
    optimizer = torch.optim.Adam(model.parameters(), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"])
    scheduler = build_schedule(optimizer, {"kind": "multistep", "milestones": [], "gamma": 1.0}, cfg["steps"])
    gen = torch.Generator(device=device).manual_seed(cfg["seed"])
    spec = LoopSpec(steps=cfg["steps"], log_every=train_cfg["log_every"],
                    checkpoint_every=train_cfg["checkpoint_every"], describe=describe(cfg), key=key,
                    bf16=ex["precision"] == "bf16")
    history = fit(model, optimizer, scheduler, lambda z, y: sequence_ce(z, y, cfg["alpha"]),
                  B.TrainBatches(data["train"], cfg["batch_size"], cfg["seed"]), gen, spec, state=state)
    bs = cfg["eval_batch_size"]
    evals = {s: token_metrics(*teacher_forced_logits(model, data[s], bs)) for s in ("val", "test")}
    save_tensors(run_dir / "model.pt", {k: v.cpu() for k, v in model.state_dict().items()})
    write_json(run_dir / "curve.json", history)
    metrics = {"key": key, "config": cfg, "execution": ex, "val": evals["val"], "test": evals["test"],
               "final_train_loss": history[-1]["loss"], "files": output_digests(run_dir)}
    write_json(run_dir / "metrics.json", metrics)  # last: marks the run complete
    state.unlink(missing_ok=True)
    return metrics | {"reused": False, "seconds": round(time.time() - t0, 1)}


def train_jobs(jobs: list[Job], device: torch.device, execution: dict) -> list[dict]:
    """The backend's ``train``: each job's run in turn, its folder locked while it trains."""
    out = []
    for job in jobs:
        with run_locks([job.run_dir]):  # one process trains a run folder at a time
            out.append(train_translation(job.run_dir, job.cfg, DATA_FILE, device, execution))
            seal(job.run_dir)
    return out


def finished_run(job: Job, device: torch.device, execution: dict) -> bool:
    """The backend's ``finished``: read-only, the folder holds the intact finished run of the job's config."""
    done = Path(job.run_dir) / "metrics.json"
    if not done.exists() or metrics_problem(done) is not None:
        return False
    m = read_json(done)
    key = run_key(job.cfg, DATA_FILE, builders.execution(execution, device, "transformer"))
    return m.get("key") == key and damaged(job.run_dir, m.get("files")) is None


def pending(jobs: list[Job], device: torch.device, execution: dict) -> list[list[int]]:
    """The backend's ``pending``: each unfinished run is a unit of its own (Transformers never stack)."""
    return [[i] for i, job in enumerate(jobs) if not finished_run(job, device, execution)]


TRANSLATION_TRAINER = Trainer(train=train_jobs, pending=pending, finished=finished_run)

