"""The generic training loop: model, optimiser, schedule and loss come from params.

Kept free of per-experiment branches. What it guarantees:
- batches are drawn on the device holding the data (no DataLoader);
- the loss is read back to the host only every ``log_every`` steps (no
  per-step synchronisation); a NaN/inf loss stops the run at that read-back
  with an error naming the step and the run;
- every ``checkpoint_every`` steps a resumable state (model, optimiser,
  scheduler, RNG states, step, curve) is written atomically, and a restarted
  run continues from it, reproducing the uninterrupted run bit for bit on CPU;
- a model that stacks several runs (``StackedFCN``) returns one loss per run:
  their sum is differentiated, so each run gets its own gradient, and each
  run's own loss goes into the curve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from ..io import load_tensors, save_tensors


class DivergenceError(RuntimeError):
    pass


@dataclass
class LoopSpec:
    steps: int
    log_every: int
    checkpoint_every: int
    describe: str        # names the run in errors and the progress bar
    key: str             # identity of the run; a saved state with another key is ignored
    clip_grad_norm: float | None = None   # clip the global gradient norm (ResNet-56: 1.0)
    snapshot_every: int | None = None     # call ``snapshot(step, model)`` every this many steps
    bf16: bool = False                    # forward and loss under bf16 autocast (optimiser state stays fp32)


class EpochBatches:
    """Indices of sampling without replacement, reshuffled every epoch.

    The order of epoch e depends only on (seed, e), so a resumed run draws
    exactly the batches the uninterrupted one would have. The last batch of
    an epoch may be smaller.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device):
        self.n, self.bs, self.seed, self.device = n, batch_size, seed, device
        self.per_epoch = math.ceil(n / batch_size)
        self._epoch, self._perm = -1, None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._epoch = torch.randperm(self.n, generator=g).to(self.device), epoch
        return self._perm[i * self.bs:(i + 1) * self.bs]


class StateFile:
    """A run's resumable state in one file; a state written under another key is ignored.

    ``fit`` also takes any object with this ``load``/``save`` pair
    (``many.MemberStates`` keeps one file per stacked run).
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self, key: str) -> dict | None:
        if not self.path.exists():
            return None
        # On the CPU: generator states must be CPU byte tensors even for a CUDA generator;
        # load_state_dict moves model and optimiser tensors to their parameters' device.
        s = load_tensors(self.path, map_location="cpu")
        return s if s.get("key") == key else None

    def save(self, state: dict) -> None:
        save_tensors(self.path, state)


def _state(model, optimizer, scheduler, gen, step, history, key) -> dict:
    s = {"key": key, "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
         "scheduler": scheduler.state_dict(), "gen": gen.get_state(),
         "cpu_rng": torch.get_rng_state(), "history": history}
    if torch.cuda.is_available():
        s["cuda_rng"] = torch.cuda.get_rng_state_all()
    return s


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler, loss_fn: Callable,
        batch_fn: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]],
        gen: torch.Generator, spec: LoopSpec, state: Path | StateFile | None = None,
        snapshot: Callable[[int, nn.Module], None] | None = None) -> list[dict]:
    """Train for spec.steps optimiser steps; return the curve [{step, loss, lr}].

    ``batch_fn(step, gen)`` returns the (augmented) input batch and targets on
    the model's device; ``loss_fn(logits, targets)`` the scalar loss, or one
    loss per stacked run (the curve's ``loss`` is then a list). ``gen`` is a
    torch.Generator or anything with its get_state/set_state. ``state``: where
    the resumable state lives (a path, or a ``StateFile``-like store).
    Snapshots (if asked for) are taken after the optimiser step that completes step n.
    """
    start, history = 0, []
    store = StateFile(state) if isinstance(state, (str, Path)) else state
    if store is not None:
        s = store.load(spec.key)
        if s is not None:
            model.load_state_dict(s["model"])
            optimizer.load_state_dict(s["optimizer"])
            scheduler.load_state_dict(s["scheduler"])
            gen.set_state(s["gen"])
            torch.set_rng_state(s["cpu_rng"])
            if "cuda_rng" in s and torch.cuda.is_available():
                torch.cuda.set_rng_state_all([t.cpu() for t in s["cuda_rng"]])
            start, history = int(s["step"]), list(s["history"])
    model.train()
    running, count = None, 0
    bar = tqdm(total=spec.steps, initial=start, desc=spec.describe, unit="step",
               mininterval=2.0, leave=False, dynamic_ncols=True)
    if snapshot is not None and spec.snapshot_every and start == 0:
        snapshot(0, model)  # the initialisation: where a curve over training starts
    device_type = next(model.parameters()).device.type
    for step in range(start, spec.steps):
        x, y = batch_fn(step, gen)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=spec.bf16):
            loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # a stacked model's runs share no parameters: each gets its own gradient
        if spec.clip_grad_norm:
            nn.utils.clip_grad_norm_(model.parameters(), spec.clip_grad_norm)  # no host sync
        optimizer.step()
        scheduler.step()
        running = loss.detach() if running is None else running + loss.detach()
        count += 1
        done = step + 1
        if done % spec.log_every == 0 or done == spec.steps:
            mean = (running / count).tolist()  # the only host sync, every log_every steps
            means = mean if isinstance(mean, list) else [mean]
            if not all(math.isfinite(v) for v in means):
                bad = [i for i, v in enumerate(means) if not math.isfinite(v)]
                which = f" (stacked runs {bad})" if isinstance(mean, list) else ""
                raise DivergenceError(
                    f"training diverged: mean loss {mean} over steps {done - count + 1}..{done} "
                    f"of {spec.describe}{which}. No metrics were written; lower the learning rate or check "
                    f"the inputs.")
            history.append({"step": done, "loss": mean, "lr": optimizer.param_groups[0]["lr"]})
            bar.set_postfix(loss=f"{sum(means) / len(means):.4f}", refresh=False)
            running, count = None, 0
        bar.update(1)
        if snapshot is not None and spec.snapshot_every and done % spec.snapshot_every == 0:
            snapshot(done, model)
        if store is not None and done % spec.checkpoint_every == 0 and done < spec.steps:
            store.save(_state(model, optimizer, scheduler, gen, done, history, spec.key))
    bar.close()
    return history


@torch.no_grad()
def predict(model: nn.Module, inputs: Callable[[slice], torch.Tensor], n: int, batch_size: int) -> torch.Tensor:
    """Logits for n examples, in order, as float32 on the CPU."""
    model.eval()
    out = [model(inputs(slice(i, i + batch_size))).float().cpu() for i in range(0, n, batch_size)]
    model.train()
    return torch.cat(out) if out else torch.empty(0)
