"""One translation run: its configuration, identity, reuse, resume, training and saved outputs.

The Transformer trains in the same generic loop as every classifier
(pipeline/training/loop.py: seeded epochs, no per-step host sync, divergence
guard, atomic resumable states); only the batches, the loss and the optimiser
(Adam, as in the PyTorch translation tutorial the replication used) differ.
Its key (pipeline/training/run_key.py) hashes its configuration, the encoded data and the numerics code
(this file's import closure), and its folder has the one lifecycle of every run
(pipeline/training/run_folder.py): an unchanged run is reused, an interrupted one resumes,
every output file's sha256 is recorded and checked before a run is reused. ``TRANSLATION_TRAINER`` hands the runs to
the execution backend (pipeline/training/backend.py), so they train inline, on local workers or on SLURM as
the classifiers do.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..io import load_tensors, save_tensors, write_json
from ..losses import sequence_ce
from ..models import build_model
from ..training.backend import Job, Trainer, finished
from ..training.builders import build_schedule, prepare_model
from ..training.loop import LoopSpec, fit
from ..training.run_folder import finish, locked, prepare
from ..training.run_key import TRANSLATION_DATA, run_key
from . import batches as B
from .metrics import teacher_forced_logits, token_metrics
from .tokenizer import PAD


def translation_config(p: dict, alpha: float, seed: int, vocab: dict, train_pairs: int) -> dict:
    """The JSON-able description of one run: shared settings (``translation``) + the profile's sizes."""
    t, prof = p["translation"], p["active"]["translation"]
    per_epoch = -(-train_pairs // t["batch_size"])
    return {"arch": "transformer", "dataset": "multi30k", "alpha": float(alpha), "seed": seed,
            "epochs": prof["epochs"], "steps": prof["epochs"] * per_epoch, "batch_size": t["batch_size"],
            "eval_batch_size": t["eval_batch_size"],
            "model": {**prof["model"], "dropout": t["dropout"], "init": t["init"], "src_vocab": vocab["en"]},
            "tgt_vocab": vocab["de"], "optim": {"lr": prof["lr"], **t["adam"]}}


def build(cfg: dict) -> torch.nn.Module:
    return build_model("transformer", (), cfg["tgt_vocab"], cfg["model"])


def describe(cfg: dict) -> str:
    return f"multi30k transformer alpha={cfg['alpha']:g} seed={cfg['seed']}"


def train_translation(run_dir: Path, cfg: dict, device: torch.device, execution: dict) -> dict:
    """Train (or reuse, or resume) one Transformer; return its metrics (teacher-forced, T = 1)."""
    run_dir = Path(run_dir)
    key, resolved = run_key(cfg, device, execution)
    done = prepare(run_dir, key, describe(cfg))
    if done is not None:
        return done | {"reused": True}

    t0 = time.time()
    data = {s: B.to_device(v, device) for s, v in load_tensors(TRANSLATION_DATA).items()}
    torch.manual_seed(cfg["seed"])  # initialisation and dropout
    model = prepare_model(build(cfg).to(device), resolved)
    o = cfg["optim"]
    optimizer = torch.optim.Adam(model.parameters(), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"])
    scheduler = build_schedule(optimizer, {"kind": "multistep", "milestones": [], "gamma": 1.0}, cfg["steps"])
    gen = torch.Generator(device=device).manual_seed(cfg["seed"])
    spec = LoopSpec(steps=cfg["steps"], log_every=execution["log_every"],
                    checkpoint_every=execution["checkpoint_every"], describe=describe(cfg), key=key,
                    bf16=resolved["precision"] == "bf16")
    history = fit(model, optimizer, scheduler, lambda z, y: sequence_ce(z, y, cfg["alpha"], PAD),
                  B.TrainBatches(data["train"], cfg["batch_size"], cfg["seed"]), gen, spec, state=run_dir / "state.pt")
    bs = cfg["eval_batch_size"]
    evals = {s: token_metrics(*teacher_forced_logits(model, data[s], bs)) for s in ("val", "test")}
    save_tensors(run_dir / "model.pt", {k: v.cpu() for k, v in model.state_dict().items()})
    write_json(run_dir / "curve.json", history)
    metrics = finish(run_dir, {"key": key, "config": cfg, "execution": resolved, "val": evals["val"],
                               "test": evals["test"], "final_train_loss": history[-1]["loss"]})
    return metrics | {"reused": False, "seconds": round(time.time() - t0, 1)}


def train_jobs(jobs: list[Job], device: torch.device, execution: dict) -> list[dict]:
    """The backend's ``train``: each job's run in turn, its folder locked while it trains."""
    out = []
    for job in jobs:
        with locked([job.run_dir]):  # one process trains a run folder at a time
            out.append(train_translation(job.run_dir, job.cfg, device, execution))
    return out


def pending(jobs: list[Job], device: torch.device, execution: dict) -> list[list[int]]:
    """The backend's ``pending``: each unfinished run is a unit of its own (Transformers never stack)."""
    return [[i] for i, job in enumerate(jobs) if not finished(job, device, execution)]


TRANSLATION_TRAINER = Trainer(train=train_jobs, pending=pending)
