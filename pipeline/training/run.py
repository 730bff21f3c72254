"""One classifier run's recipe: model, data, loss, optimiser and schedule from its config, trained and evaluated.

The same function trains plain classifiers (label smoothing), teachers and
distilled students; only the config's ``loss`` (and a teacher) differ.

A run is described by a JSON-able config. Its key (pipeline/training/run_key.py) hashes that config, the
prepared data file and the numerics code, which includes this file. The run folder's lifecycle (reuse of a
finished run with the same key, resume of a state with the same key, clearing anything else, the recorded
digests) is pipeline/training/run_folder.py. So a stage that reruns because one parameter changed trains only
the runs that parameter touches.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import inputs, prepared
from ..io import read_json, save_tensors, write_json
from ..losses import build_loss
from ..models import build_model
from .builders import build_optimizer, build_schedule, prepare_model
from .loop import EpochBatches, LoopSpec, fit, predict
from .restore import load_model
from .run_folder import finish, prepare
from .run_key import run_key


def _eval_split(model, x, y, bs, input_cfg) -> tuple[torch.Tensor, dict]:
    logits = predict(model, lambda s: inputs.eval_batch(x[s], input_cfg), len(x), bs)
    y = y.cpu()
    return logits, {"acc": 100.0 * (logits.argmax(1) == y).float().mean().item(),
                    "nll": F.cross_entropy(logits, y).item()}


def describe(cfg: dict) -> str:
    loss = cfg["loss"]
    what = {"label_smoothing": lambda: f"alpha={loss['alpha']:g}",
            "logit_regression": lambda: f"distilled (logit regression on {loss['regress_on']})",
            "soft_targets": lambda: f"distilled (beta={loss['beta']:g}, T={loss['temperature']:g})"}[loss["kind"]]()
    arch = cfg["arch"] + (str(cfg["model"]["hidden"]) if "hidden" in cfg["model"] else "")
    return f"{cfg['dataset']} {arch} {what} seed={cfg['seed']}"


def open_run(run_dir: Path, cfg: dict, device: torch.device, execution: dict) -> tuple[str, dict, dict | None]:
    """(key, resolved execution, metrics): the metrics of a finished run with this key, else None with the
    folder ready to train (``run_folder.prepare``)."""
    key, resolved = run_key(cfg, device, execution)
    finished = prepare(run_dir, key, describe(cfg))
    return key, resolved, (finished | {"reused": True} if finished is not None else None)


def training_data(cfg: dict, device: torch.device) -> tuple[dict, dict, torch.Tensor, torch.Tensor]:
    """(all splits, meta, train_x, train_y): the training split cut to the run's subset; with
    ``train_on_validation`` (a probe of the replication, which held nothing out) the validation images too."""
    data, meta = prepared.load(cfg["dataset"], device)
    x, y = data["train_x"], data["train_y"]
    if cfg.get("train_on_validation"):
        x, y = torch.cat([x, data["val_x"]]), torch.cat([y, data["val_y"]])
    if cfg["max_train_examples"]:
        x, y = x[:cfg["max_train_examples"]], y[:cfg["max_train_examples"]]
    return data, meta, x, y


# The batch of the teacher's pass over the training set. The logits of an example do not depend on its batch
# mathematically, but their float rounding does (the matrix kernels block by batch size), and a student's
# 10,800 steps carry a last-bit difference in its targets to about 1e-4 in its test NLL. So the batch is fixed
# here, in code every student's key hashes, rather than read from ``execution.eval_batch_size``, which is in
# no key; 4096 is the value the reference snapshot's students were trained with.
TEACHER_BATCH = 4096


def teacher_targets(cfg: dict, teacher_dir: Path | None, x: torch.Tensor, device: torch.device
                    ) -> torch.Tensor | None:
    """The teacher's logits on each training image, or None for a run without a teacher.

    Computed once, each image in the teacher's own test-time view: a ResNet
    teacher never sees the AlexNet student's 24×24 crops. The teacher must be
    the finished run whose key the config names (so a student is retrained
    exactly when its teacher changed).
    """
    if not cfg.get("teacher"):
        return None
    if read_json(Path(teacher_dir) / "metrics.json")["key"] != cfg["teacher"]:
        raise RuntimeError(f"teacher in {teacher_dir} is not the run with key {cfg['teacher']} the student "
                           "expects: rerun the teacher's stage first")
    return teacher_logits(teacher_dir, cfg["dataset"], x, device, TEACHER_BATCH)


_TEACHER_LOGITS: dict[tuple, torch.Tensor] = {}


def teacher_logits(teacher_dir: Path, dataset: str, x: torch.Tensor, device: torch.device,
                   batch_size: int) -> torch.Tensor:
    """A finished run's logits on ``x`` (``dataset``'s training split, or its first len(x) examples) in
    the run's own test-time view, computed once per process.

    Every student of a teacher (and the smoothness index γ) needs the same
    logits over the whole training set; for a ResNet-56 teacher that pass costs
    more than a short student run, so it is cached by the teacher's key, the
    dataset and the number of examples.
    """
    key = read_json(Path(teacher_dir) / "metrics.json")["key"]
    memo = (key, dataset, tuple(x.shape), str(device))
    if memo not in _TEACHER_LOGITS:
        teacher, tmeta = load_model(teacher_dir, device)
        tin = tmeta["config"]["input"]
        _TEACHER_LOGITS[memo] = predict(teacher, lambda s: inputs.eval_batch(x[s].to(device), tin), len(x),
                                        batch_size).to(device)
    return _TEACHER_LOGITS[memo]


def save_run(run_dir: Path, model, data: dict, cfg: dict, key: str, resolved: dict, history: list[dict],
             eval_batch_size: int) -> dict:
    """Evaluate a trained model on val and test and write the run's files; metrics.json last (``finish``)."""
    run_dir = Path(run_dir)
    val_logits, val = _eval_split(model, data["val_x"], data["val_y"], eval_batch_size, cfg["input"])
    test_logits, test = _eval_split(model, data["test_x"], data["test_y"], eval_batch_size, cfg["input"])
    save_tensors(run_dir / "model.pt", {k: v.cpu() for k, v in model.state_dict().items()})
    save_tensors(run_dir / "logits.pt", {"val_logits": val_logits, "val_labels": data["val_y"].cpu(),
                                         "test_logits": test_logits, "test_labels": data["test_y"].cpu()})
    write_json(run_dir / "curve.json", history)
    # Only deterministic content here (no wall time), so identical runs give identical bytes.
    return finish(run_dir, {"key": key, "config": cfg, "execution": resolved, "test_acc": test["acc"],
                            "test_nll": test["nll"], "val_acc": val["acc"], "val_nll": val["nll"],
                            "final_train_loss": history[-1]["loss"]})


def train_run(run_dir: Path, cfg: dict, device: torch.device, execution: dict,
              teacher_dir: Path | None = None) -> dict:
    """Train (or reuse, or resume) one classifier run on its own; return its metrics.

    ``cfg["loss"]`` picks the loss; a distillation loss needs ``teacher_dir``
    (see ``teacher_targets``). Stages train through ``training.backend.train_runs``,
    whose inline trainer (``dispatch.train_inline``) calls this for every run it does not stack.
    """
    run_dir = Path(run_dir)
    key, resolved, finished = open_run(run_dir, cfg, device, execution)
    if finished is not None:
        return finished
    t0 = time.time()
    data, meta, x, y = training_data(cfg, device)
    teacher_logits = teacher_targets(cfg, teacher_dir, x, device)
    torch.manual_seed(cfg["seed"])  # model init and dropout
    model = prepare_model(build_model(cfg["arch"], tuple(x.shape[1:]), meta["num_classes"], cfg["model"]).to(device),
                          resolved)
    optimizer = build_optimizer(model, cfg["optim"])
    scheduler = build_schedule(optimizer, cfg["schedule"], cfg["steps"])
    gen = torch.Generator(device=device).manual_seed(cfg["seed"])
    batches = EpochBatches(len(x), cfg["batch_size"], cfg["seed"], device)
    loss_fn = build_loss(cfg["loss"])
    targets: dict = {}

    def batch_fn(step, g):
        idx = batches(step)
        if teacher_logits is not None:
            targets["teacher"] = teacher_logits[idx]
        xb = inputs.train_batch(x[idx], cfg["input"], g)
        return (xb.contiguous(memory_format=torch.channels_last) if resolved["channels_last"] else xb), y[idx]

    def snapshot(step, m):  # weights at fixed steps, for curves over training (mutual information)
        save_tensors(run_dir / "snapshots" / f"step_{step:07d}.pt", {k: v.cpu() for k, v in m.state_dict().items()})

    spec = LoopSpec(steps=cfg["steps"], log_every=execution["log_every"],
                    checkpoint_every=execution["checkpoint_every"], key=key, describe=describe(cfg),
                    clip_grad_norm=cfg.get("clip_grad_norm"), snapshot_every=cfg.get("snapshot_every"),
                    bf16=resolved["precision"] == "bf16")
    history = fit(model, optimizer, scheduler, lambda z, t: loss_fn(z, t, targets.get("teacher")),
                  batch_fn, gen, spec, state=run_dir / "state.pt", snapshot=snapshot)
    metrics = save_run(run_dir, model, data, cfg, key, resolved, history, execution["eval_batch_size"])
    return metrics | {"reused": False, "seconds": round(time.time() - t0, 1)}

