"""Training throughput: a replication-style loop against this project's path, in one run.

    python benchmarks/throughput.py [--device cpu|cuda] [--steps 30] [--repeats 5] [--models transformer]
For each model it measures training samples/s of
  (a) the replication's style: a torchvision dataset with per-sample PIL transforms (the ±2 px shift
      as RandomAffine) through a DataLoader, fp32, one model;
  (b) this project's path: uint8 tensors on the device, batches indexed on the device, the shift applied
      to the whole batch at once (pipeline/data/augment.py), the loss read back every `log_every` steps;
  (c) several FCNs or AlexNets (the α sweep, the distillation students) trained at once as one stacked
      model (pipeline/models/stacked_*.py), each on its own batches and augmentation draws, as
      pipeline/training/many.py trains them in the stages (execution.stack); samples/s counts every member's;
and prints (b)/(a) and (c)/(a). Also: training FLOPs per sample (counted from the layer shapes), the
achieved FLOP/s, the device's measured matmul peak for reference, the paper profile's wall time from (b).

Timing: warm-up steps, then `repeats` windows of `steps` optimiser steps, the median window reported (CUDA
synchronised). Needs torch and torchvision, not dvc. AlexNet, ResNet-56 and Transformer rows: zoo.py.
"""
from __future__ import annotations

import argparse
import copy
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cost  # noqa: E402  (benchmarks/cost.py, beside this file)
import zoo  # noqa: E402  (benchmarks/zoo.py, beside this file)

from pipeline.allocator import keep_freed_memory  # noqa: E402
from pipeline.compat import import_torchvision  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.data.augment import random_shift  # noqa: E402
from pipeline.data.fetch import fetch_dataset, mirror_root  # noqa: E402
from pipeline.data.readers import read_idx  # noqa: E402
from pipeline.data.registry import get  # noqa: E402
from pipeline.losses import label_smoothing_ce  # noqa: E402
from pipeline.models.fcn import FCN  # noqa: E402
from pipeline.models.stacked_fcn import StackedFCN  # noqa: E402
from pipeline.training.builders import linear_decay, resolve_execution, sgd_per_layer  # noqa: E402
from pipeline.training.stacking import stacked_optimizer  # noqa: E402

BATCH = 512


def bf16(device: torch.device) -> bool:
    """(b) and (c) run in the precision the stages resolve by default (auto: bf16 autocast on CUDA, and on a CPU
    with native bf16 for the FCN); the Transformer's (b) is timed in both there."""
    return resolve_execution({"precision": "auto"}, device, "fcn")["precision"] == "bf16"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step, device, steps: int, repeats: int, warmup: int, batch: int = BATCH) -> float:
    """Median samples/s over `repeats` windows of `steps` calls of step() of `batch` samples each."""
    for _ in range(warmup):
        step()
    sync(device)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        rates.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(rates)


def fcn_flops_per_sample(model: FCN) -> float:
    """Training FLOPs/sample ≈ 3 × forward (backward costs two forwards); 2 FLOPs per multiply-add."""
    return 3 * 2 * sum(m.in_features * m.out_features for m in model.linear_layers())


def matmul_peak(device: torch.device, n: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0, reps = time.perf_counter(), 10
    for _ in range(reps):
        a @ b
    sync(device)
    return reps * 2 * n ** 3 / (time.perf_counter() - t0)


def make_model(device):
    torch.manual_seed(0)
    m = FCN(784, 10, [1200, 1200]).to(device)
    opt = sgd_per_layer(m, [1.0, 1.0, 0.1], 0.9, 0.9, 0.0)
    return m, opt, linear_decay(opt, 10_000)


def replication_style(raw_dir: Path, device, args) -> float:
    tv = import_torchvision()
    T = tv.transforms
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for f in raw_dir.glob("*.gz"):  # torchvision looks for the decompressed idx files
            with gzip.open(f) as src, open(raw / f.name.removesuffix(".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
        ds = tv.datasets.MNIST(tmp, train=True, download=False, transform=T.Compose([
            T.RandomAffine(0, translate=(2 / 28, 2 / 28)), T.ToTensor()]))
        loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True,
                                             num_workers=args.workers, persistent_workers=args.workers > 0)
        model, opt, sched = make_model(device)
        it = iter(loader)

        def step():
            nonlocal it
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(loader)
                x, y = next(it)
            x, y = x.to(device), y.to(device)
            loss = label_smoothing_ce(model(x), y, 0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss.item()  # the replication logged every step

        return timed(step, device, args.steps, args.repeats, args.warmup)


def project_path(raw_dir: Path, device, args, half: bool | None = None) -> tuple[float, float]:
    """(b); ``half``: bf16 autocast on or off (None: what the stages resolve on this device)."""
    half = bf16(device) if half is None else half
    (x, y), _ = read_idx(raw_dir)
    x, y = x.to(device), y.to(device)
    model, opt, sched = make_model(device)
    gen = torch.Generator(device=device).manual_seed(0)
    state = {"i": 0, "perm": torch.randperm(len(x), device=device)}
    acc = torch.zeros((), device=device)

    def step():
        nonlocal acc
        i = state["i"]
        if (i + 1) * BATCH > len(x):
            state["i"], state["perm"], i = 0, torch.randperm(len(x), device=device), 0
        idx = state["perm"][i * BATCH:(i + 1) * BATCH]
        state["i"] += 1
        xb = random_shift(x[idx], 2, gen).float().div_(255)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=half):
            loss = label_smoothing_ce(model(xb), y[idx], 0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        acc = acc + loss.detach()  # read back every log_every steps, not here

    return timed(step, device, args.steps, args.repeats, args.warmup), fcn_flops_per_sample(model)


def stacked_path(raw_dir: Path, device, args) -> float:
    """(c): `args.stack` FCNs (the α sweep) trained at once by StackedFCN, each on its own batches."""
    (x, y), _ = read_idx(raw_dir)
    x, y = x.to(device), y.to(device)
    g_models = args.stack
    members = []
    for s in range(g_models):
        torch.manual_seed(s)
        members.append(FCN(784, 10, [1200, 1200]))
    model = StackedFCN(members).to(device)
    opt = stacked_optimizer(model, members[0], {"lr": [1.0, 1.0, 0.1], "momentum": 0.9, "dampening": 0.9,
                                                "weight_decay": 0.0})
    sched = linear_decay(opt, 10_000)
    alphas = [0.0, 0.05, 0.1, 0.15, 0.3][:g_models] + [0.1] * max(0, g_models - 5)
    gens = [torch.Generator(device=device).manual_seed(s) for s in range(g_models)]
    perms = [torch.randperm(len(x), device=device) for _ in range(g_models)]
    state = {"i": 0}
    acc = torch.zeros(g_models, device=device)

    def step():  # as pipeline/training/many.py feeds loop.fit: each member's own batch and shift draws
        nonlocal acc
        i = state["i"]
        if (i + 1) * BATCH > len(x):
            i = state["i"] = 0
        state["i"] += 1
        idx = [p[i * BATCH:(i + 1) * BATCH] for p in perms]
        xb = torch.stack([random_shift(x[j], 2, g).float().div_(255) for j, g in zip(idx, gens)])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16(device)):
            logits = model(xb)
            loss = torch.stack([label_smoothing_ce(logits[k], y[j], a) for k, (j, a) in enumerate(zip(idx, alphas))])
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        sched.step()
        acc = acc + loss.detach()

    return timed(step, device, args.steps, args.repeats, args.warmup) * g_models


def paper_samples_per_seed(p: dict) -> dict[str, float]:
    """Training samples of one seed of the `paper` profile, per model (counted in benchmarks/cost.py)."""
    q = copy.deepcopy(p)
    q["profile"], prof = "paper", q["profiles"]["paper"]
    prof |= {"seeds": [0], "distill_seeds": [0], "translation": {**prof["translation"], "seeds": [0]}}
    return cost.training_samples(q)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of the replication-style loop")
    ap.add_argument("--stack", type=int, default=5, help="models trained at once in path (c)")
    ap.add_argument("--models", default="fcn,alexnet,resnet56,transformer")
    ap.add_argument("--log-every", type=int, default=25, help="loss read-back interval of path (b)")
    ap.add_argument("--json", default=None, help="also write the rows, peaks and estimates to this file")
    ap.add_argument("--transformer-profile", default=None,
                    help="whose Transformer size to time (default: paper on CUDA, default on CPU)")
    args = ap.parse_args()
    models = args.models.split(",")
    args.transformer_profile = args.transformer_profile or ("paper" if torch.cuda.is_available() else "default")
    device = torch.device(args.device)
    raw = Path("data/raw/mnist")  # the working directory's, as the stages'
    if not raw.exists():
        fetch_dataset(get("mnist"), raw, mirror_root())
    device_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"CPU, {torch.get_num_threads()} threads")
    print(f"device: {device_name}; torch {torch.__version__}; batch: FCN {BATCH}, the others their params' batch; "
          f"median of {args.repeats} x {args.steps} steps")
    peak = matmul_peak(device)
    rows = []   # (name, a, b, c or None, flops per sample, unit)
    if "fcn" in models:
        a = replication_style(raw, device, args)
        b, flops = project_path(raw, device, args)
        rows.append(("FCN-1200", a, b, stacked_path(raw, device, args), flops, "samples"))
        # (b) in fp32, and in bf16 where the stages resolve it (CUDA, or a CPU with native bf16). Emulated, bf16
        # trained at 8 % of the fp32 rate (2-core AVX2 EPYC) and its peak alone outlasted a GPU session's budget.
        for half, tag in ((False, "fp32"), (True, "bf16"))[:2 if bf16(device) else 1]:
            rows.append((f"FCN-1200 (b) {tag}", a, project_path(raw, device, args, half)[0], None, flops, "samples"))
    for arch, name in (("alexnet", "AlexNet"), ("resnet56", "ResNet-56")):
        if arch in models:
            sa, sb, sc, bs, flops = zoo.convnet_steps(arch, device, args.workers, args.log_every, args.stack)
            c = timed(sc, device, args.steps, args.repeats, args.warmup, bs) * args.stack if sc else None
            rows.append((name, timed(sa, device, args.steps, args.repeats, args.warmup, bs),
                         timed(sb, device, args.steps, args.repeats, args.warmup, bs), c, flops, "samples"))
    if "transformer" in models:  # (b) fp32, and bf16 autocast where bf16 is native; (a) fp32, timed once
        a = None
        for half in (False, True)[:2 if bf16(device) else 1]:
            sa, sb, bs, f = zoo.transformer_steps(device, args.workers, args.log_every, args.transformer_profile, half)
            a = a or timed(sa, device, args.steps, args.repeats, args.warmup, bs)
            rows.append((f"Transformer ({args.transformer_profile})" + (" (b) bf16" if half else ""), a,
                         timed(sb, device, args.steps, args.repeats, args.warmup, bs), None, f, "pairs"))
    print(f"\n{'model':<30} {'(a) replication':>16} {'(b) project':>12} {'(b)/(a)':>8} "
          f"{f'(c) {args.stack} at once':>15} {'(c)/(a)':>8} {'FLOP/sample':>12} {'(b) achieved':>13} "
          f"{'of matmul peak':>15}")
    for name, a, b, c, flops, unit in rows:
        cs = f"{c:>13.0f}/s {c / a:>7.2f}x" if c else f"{'—':>15} {'—':>8}"
        print(f"{name:<30} {a:>14.0f}/s {b:>10.0f}/s {b / a:>7.2f}x {cs} "
              f"{flops / 1e6:>9.1f} M {b * flops / 1e9:>8.1f} GF/s {b * flops / peak:>14.0%}  ({unit})")
    peak_bf16 = matmul_peak(device, dtype=torch.bfloat16) if bf16(device) else None
    print(f"\nmatmul peak measured here: {peak / 1e9:.0f} GFLOP/s (fp32, {2048}^3), "
          + (f"{peak_bf16 / 1e9:.0f} GFLOP/s (bf16)" if peak_bf16 else "bf16 not timed (no native bf16 on this CPU)"))
    per_seed = paper_samples_per_seed(load_params())
    rate = {r[0].split()[0].lower().replace("-", ""): r for r in rows if "(b)" not in r[0]}
    total_b = total_a = 0.0
    for key, name in (("fcn", "fcn1200"), ("alexnet", "alexnet"), ("resnet56", "resnet56"),
                      ("transformer", "transformer")):
        if name in rate:
            _, a, b, c, *_ = rate[name]
            # The stages stack FCNs and AlexNets where execution.stack resolves to true (auto: CUDA): rate (c).
            ours, path = (c, "(c)") if c and device.type == "cuda" else (b, "(b)")
            total_b, total_a = total_b + per_seed[key] / ours, total_a + per_seed[key] / a
            size = f" (timed at the {args.transformer_profile} profile's size)" if key == "transformer" else ""
            print(f"paper profile, one seed, {key}: {per_seed[key] / 1e6:,.0f} M samples -> "
                  f"{per_seed[key] / ours / 3600:,.1f} h at {path}, {per_seed[key] / a / 3600:,.1f} h at (a){size}")
    print(f"paper profile, one seed, the models timed: {total_b / 3600:,.1f} h with this project's paths, "
          f"{total_a / 3600:,.1f} h at (a) on this device")
    if args.json:
        from pipeline.io import write_json
        write_json(Path(args.json), {
            "device": device_name, "torch": torch.__version__, "steps": args.steps, "repeats": args.repeats,
            "stack": args.stack, "matmul_peak_fp32_flops": peak, "matmul_peak_bf16_flops": peak_bf16,
            "rows": [{"model": n, "a": a, "b": b, "c": c, "flops_per_sample": f, "unit": u, "b_over_a": b / a,
                      "c_over_a": c / a if c else None, "achieved_tflops_b": b * f / 1e12,
                      "of_bf16_peak_b": b * f / peak_bf16 if peak_bf16 else None} for n, a, b, c, f, u in rows],
            "paper_profile_one_seed_hours": {"project": total_b / 3600, "replication_style": total_a / 3600}})
    return 0


if __name__ == "__main__":
    keep_freed_memory()  # as the stages do (pipeline/stage.py), so the figures are theirs
    sys.exit(main())
