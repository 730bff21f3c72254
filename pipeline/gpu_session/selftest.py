"""A self-test of the training path on a device, in well under a minute: one PASS/FAIL line per check.

Each check trains tiny runs through the stages' own code (pipeline/training/dispatch.py, many.py, run.py) on
synthetic data in a temporary project, with the execution the stages resolve on that device
(on CUDA: bf16 autocast, channels_last convnets, stacking):
  - stacked FCNs / AlexNets against the same runs alone (weights within 1 % of their norm),
  - ResNet-56 trains a few steps (a finite loss) and the Transformer's loss falls,
  - a run interrupted and resumed against the uninterrupted one, and the same seed twice
    (bit for bit is reported; within 1e-5 of the weights' norm passes).

    python -m tools.gpu selftest [--device cuda] [--json FILE]
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def _fcn(seed: int, alpha: float, steps: int = 16) -> dict:
    return {"arch": "fcn", "dataset": "toy", "seed": seed, "loss": {"kind": "label_smoothing", "alpha": alpha},
            "teacher": None, "model": {"hidden": [64, 64], "dropout": 0.0, "init_std": 0.1},
            "optim": {"lr": [0.5, 0.5, 0.05], "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.0},
            "schedule": {"kind": "linear"}, "input": {"augment": "shift", "max_shift": 1, "standardize": "none"},
            "batch_size": 32, "epochs": 4, "steps": steps, "max_train_examples": None}


def _convnet(arch: str, seed: int, alpha: float) -> dict:
    model = {"crop": 24} if arch == "alexnet" else {"depth": 56, "widths": [16, 32, 64], "stem_kernel": 3}
    inp = ({"augment": "crop_flip", "crop": 24, "standardize": "per_image"} if arch == "alexnet" else
           {"augment": "pad_crop_flip", "pad": 4, "standardize": "per_image"})
    optim = ({"lr": 0.05, "momentum": 0.0, "nesterov": False, "weight_decay": 0.04, "decay_on": "model"}
             if arch == "alexnet" else
             {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4, "decay_on": "all"})
    return {"arch": arch, "dataset": "rgb", "seed": seed, "loss": {"kind": "label_smoothing", "alpha": alpha,
                                                                    "scale": 3.0},
            "teacher": None, "model": model, "optim": optim,
            "schedule": {"kind": "multistep", "milestones": [6], "gamma": 0.1}, "input": inp,
            "batch_size": 16, "steps": 8, "clip_grad_norm": 1.0 if arch == "resnet56" else None,
            "snapshot_every": None, "max_train_examples": None}


def _toy_project(root: Path) -> None:
    from ..io import save_tensors, write_json
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (480,), generator=g)
    x = (torch.rand(480, 8, 8, generator=g) * 120 + y[:, None, None] * 30).to(torch.uint8)
    save_tensors(root / "data/prepared/toy.pt", {f"{s}_{k}": v[i * 160:(i + 1) * 160] for i, s in
                                                 enumerate(("train", "val", "test")) for k, v in (("x", x), ("y", y))})
    write_json(root / "data/prepared/toy.json", {"num_classes": 4, "image_shape": [8, 8]})
    save_tensors(root / "data/prepared/rgb.pt",
                 {f"{s}_{k}": v for s in ("train", "val", "test")
                  for k, v in (("x", torch.randint(0, 256, (48, 3, 32, 32), generator=g, dtype=torch.uint8)),
                               ("y", torch.randint(0, 10, (48,), generator=g)))})
    write_json(root / "data/prepared/rgb.json", {"num_classes": 10, "image_shape": [3, 32, 32]})


def _weights(run_dir: Path) -> dict:
    from ..io import load_tensors
    return load_tensors(run_dir / "model.pt")


def _rel(a: dict, b: dict) -> float:
    """‖a − b‖ / ‖a‖ over all floating tensors of two state dicts together (a per-tensor ratio would
    blow up on biases that training barely moved from zero)."""
    keys = [k for k in a if a[k].is_floating_point()]
    diff = sum((a[k].double() - b[k].double()).pow(2).sum() for k in keys).sqrt()
    return (diff / sum(a[k].double().pow(2).sum() for k in keys).sqrt().clamp_min(1e-12)).item()


def _stacked_vs_alone(cfgs: list[dict], ex: dict, device) -> str:
    from ..training.dispatch import Job, train_inline
    tag = cfgs[0]["arch"]
    train_inline([Job(Path(f"alone_{tag}/{i}"), c) for i, c in enumerate(cfgs)], device, ex | {"stack": False})
    res = train_inline([Job(Path(f"stacked_{tag}/{i}"), c) for i, c in enumerate(cfgs)], device, ex | {"stack": True})
    if [m.get("stacked_with") for m in res] != [len(cfgs)] * len(cfgs):
        raise AssertionError(f"the runs did not stack: {[m.get('stacked_with') for m in res]}")
    d = max(_rel(_weights(Path(f"alone_{tag}/{i}")), _weights(Path(f"stacked_{tag}/{i}"))) for i in range(len(cfgs)))
    if d > 1e-2:
        raise AssertionError(f"stacked weights differ from alone by {d:.2e} of their norm (> 1e-2)")
    return f"{len(cfgs)} runs, {res[0]['execution']}, max relative weight difference {d:.1e}"


def _trains(cfg: dict, ex: dict, device) -> str:
    from ..training.run import train_run
    m = train_run(Path(f"alone_{cfg['arch']}"), cfg, device, ex)
    curve = json.loads(Path(f"alone_{cfg['arch']}/curve.json").read_text())
    losses = [r["loss"] for r in (curve if isinstance(curve, list) else curve["points"])]
    if not all(map(lambda v: v == v and abs(v) < 1e6, losses)):
        raise AssertionError(f"non-finite loss: {losses}")
    return f"{cfg['steps']} steps, {m['execution']}, loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def _transformer(device) -> str:
    from ..models.transformer import Seq2SeqTransformer
    torch.manual_seed(0)
    model = Seq2SeqTransformer(64, 64, d_model=32, heads=2, enc_layers=1, dec_layers=1, ffn=64).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    src, tgt = (torch.randint(1, 64, (16, 10), device=device) for _ in range(2))
    losses = []
    for _ in range(8):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model((src, tgt[:, :-1]))
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), tgt[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if not losses[-1] < losses[0]:
        raise AssertionError(f"loss did not fall: {losses}")
    return f"8 bf16 autocast steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def _resume(ex: dict, device) -> str:
    from ..training import loop
    from ..training.run import train_run
    cfg = _fcn(5, 0.1)
    train_run(Path("resume/whole"), cfg, device, ex)
    calls = loop.EpochBatches.__call__

    def interrupt(self, step):
        if step == 10:
            raise KeyboardInterrupt
        return calls(self, step)
    loop.EpochBatches.__call__ = interrupt
    try:
        train_run(Path("resume/cut"), cfg, device, ex)
    except KeyboardInterrupt:
        pass
    finally:
        loop.EpochBatches.__call__ = calls
    if not Path("resume/cut/state.pt").exists():
        raise AssertionError("no resumable state after the interruption")
    train_run(Path("resume/cut"), cfg, device, ex)
    return _same(_weights(Path("resume/whole")), _weights(Path("resume/cut")), "interrupted at step 10 and resumed")


def _same_seed(ex: dict, device) -> str:
    from ..training.run import train_run
    for d in ("seed/a", "seed/b"):
        train_run(Path(d), _fcn(7, 0.0), device, ex)
    return _same(_weights(Path("seed/a")), _weights(Path("seed/b")), "seed 7 twice")


def _same(a: dict, b: dict, what: str) -> str:
    if all(torch.equal(a[k], b[k]) for k in a):
        return f"{what}: bit for bit"
    d = _rel(a, b)
    if d > 1e-5:
        raise AssertionError(f"{what}: weights differ by {d:.1e} of their norm")
    return f"{what}: equal within {d:.1e} of the weights' norm (not bit for bit)"


def selftest(device: torch.device) -> list[dict]:
    """[{check, ok, detail, seconds}] for every check, run in a temporary project."""
    ex = {"log_every": 2, "checkpoint_every": 4, "eval_batch_size": 256, "precision": "auto",
          "channels_last": "auto", "stack_max": 16}
    if device.type == "cuda":
        ex["precision"] = "bf16"
    checks = [("FCN: 3 runs stacked = the same runs alone", lambda: _stacked_vs_alone(
                  [_fcn(s, a) for s, a in ((0, 0.0), (1, 0.1), (2, 0.3))], ex, device)),
              ("AlexNet: 3 runs stacked = alone (channels_last on CUDA)", lambda: _stacked_vs_alone(
                  [_convnet("alexnet", s, a) for s, a in ((0, 0.0), (1, 0.1), (2, 0.3))], ex, device)),
              ("ResNet-56 trains", lambda: _trains(_convnet("resnet56", 0, 0.1), ex, device)),
              ("Transformer trains", lambda: _transformer(device)),
              ("save and resume = uninterrupted", lambda: _resume(ex, device)),
              ("the same seed twice = the same run", lambda: _same_seed(ex, device))]
    out, cwd = [], os.getcwd()
    with tempfile.TemporaryDirectory(prefix="selftest.") as tmp:
        os.chdir(tmp)
        try:
            _toy_project(Path(tmp))
            for name, check in checks:
                t0 = time.time()
                try:
                    row = {"check": name, "ok": True, "detail": check()}
                except Exception as e:  # noqa: BLE001 - a failed check is a result, reported on its line
                    row = {"check": name, "ok": False, "detail": f"{type(e).__name__}: {e}",
                           "traceback": traceback.format_exc(limit=3)}
                row["seconds"] = round(time.time() - t0, 2)
                print(f"{'PASS' if row['ok'] else 'FAIL'} {name}: {row['detail']} ({row['seconds']} s)", flush=True)
                out.append(row)
        finally:
            os.chdir(cwd)
    return out
