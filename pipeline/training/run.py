"""One classifier run: its identity, reuse, resume, training and saved outputs.

A run is described by a JSON-able config. Its key is a hash of that config,
of the prepared data file and of the code that trains it. A run folder whose
``metrics.json`` (written last, atomically) carries the same key is complete
and is reused; a ``state.pt`` with the same key is resumed; anything else in
the folder is discarded. So a stage that reruns because one parameter changed
trains only the runs that parameter touches.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import augment, prepared
from ..io import read_json, save_tensors, tree_digest, write_json
from ..losses import label_smoothing_ce
from ..models import build_model
from .builders import linear_decay, sgd_per_layer
from .loop import EpochBatches, LoopSpec, fit, predict

# Code whose change must invalidate finished runs (the train stage depends on it too).
TRAINING_CODE = ["pipeline/models", "pipeline/training", "pipeline/losses.py",
                 "pipeline/data/augment.py", "pipeline/data/prepared.py"]


def run_key(cfg: dict, data_file: Path) -> str:
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    h.update(hashlib.sha256(Path(data_file).read_bytes()).digest())
    h.update(tree_digest([Path(p) for p in TRAINING_CODE]).encode())
    return h.hexdigest()[:16]


def _eval_split(model, x, y, bs) -> tuple[torch.Tensor, dict]:
    logits = predict(model, lambda s: prepared.to_unit_float(x[s]), len(x), bs)
    y = y.cpu()
    return logits, {"acc": 100.0 * (logits.argmax(1) == y).float().mean().item(),
                    "nll": F.cross_entropy(logits, y).item()}


def train_fcn_run(run_dir: Path, cfg: dict, dataset: str, device: torch.device, train_cfg: dict) -> dict:
    """Train (or reuse, or resume) one FCN classifier run; return its metrics."""
    run_dir = Path(run_dir)
    data_file = prepared.paths(dataset)[0]
    key = run_key(cfg, data_file)
    done = run_dir / "metrics.json"
    if done.exists() and read_json(done).get("key") == key and (run_dir / "model.pt").exists():
        return read_json(done) | {"reused": True}
    state = run_dir / "state.pt"
    if run_dir.exists() and not state.exists():
        shutil.rmtree(run_dir)  # leftovers of another configuration
    run_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    data, meta = prepared.load(dataset, device)
    x, y = data["train_x"], data["train_y"]
    if cfg["max_train_examples"]:
        x, y = x[:cfg["max_train_examples"]], y[:cfg["max_train_examples"]]
    torch.manual_seed(cfg["seed"])  # model init and dropout
    model = build_model("fcn", tuple(x.shape[1:]), meta["num_classes"], cfg["model"]).to(device)
    o = cfg["optim"]
    optimizer = sgd_per_layer(model, o["lr"], o["momentum"], o["dampening"], o["weight_decay"])
    scheduler = linear_decay(optimizer, cfg["steps"])
    gen = torch.Generator(device=device).manual_seed(cfg["seed"])
    batches = EpochBatches(len(x), cfg["batch_size"], cfg["seed"], device)

    def batch_fn(step, g):
        idx = batches(step)
        return prepared.to_unit_float(augment.random_shift(x[idx], cfg["max_shift"], g)), y[idx]

    spec = LoopSpec(steps=cfg["steps"], log_every=train_cfg["log_every"],
                    checkpoint_every=train_cfg["checkpoint_every"], key=key,
                    describe=f"{dataset} fcn alpha={cfg['alpha']} seed={cfg['seed']}")
    history = fit(model, optimizer, scheduler, lambda z, t: label_smoothing_ce(z, t, cfg["alpha"]),
                  batch_fn, gen, spec, state_path=state)

    bs = train_cfg["eval_batch_size"]
    val_logits, val = _eval_split(model, data["val_x"], data["val_y"], bs)
    test_logits, test = _eval_split(model, data["test_x"], data["test_y"], bs)
    save_tensors(run_dir / "model.pt", {k: v.cpu() for k, v in model.state_dict().items()})
    save_tensors(run_dir / "logits.pt", {"val_logits": val_logits, "val_labels": data["val_y"].cpu(),
                                         "test_logits": test_logits, "test_labels": data["test_y"].cpu()})
    write_json(run_dir / "curve.json", history)
    metrics = {"key": key, "config": cfg, "test_acc": test["acc"], "test_nll": test["nll"],
               "val_acc": val["acc"], "val_nll": val["nll"], "final_train_loss": history[-1]["loss"],
               "seconds": round(time.time() - t0, 1), "device": device.type}
    write_json(done, metrics)  # last: marks the run complete
    state.unlink(missing_ok=True)
    return metrics | {"reused": False}
