"""Where a training step of the Transformer spends its time, in fp32 and in bf16 autocast.

    python benchmarks/transformer_time.py [--profile paper] [--steps 20] [--json FILE]

On the Multi30k training split with the project's batches (pipeline/text/batches.py) and the profile's
model, it times `steps` optimiser steps by phase (batch, forward, loss, backward, optimizer), then profiles
3 more with torch.profiler and splits the operators' own time into parts: the optimizer's step (by phase),
and by kind in the other phases: the output projection (a matmul with the target vocabulary as one side),
the loss, attention, the other matmuls (attention's in/out projections, the FFN), layer norm, and the rest
(elementwise, copies, reductions). Padding is the share of positions that are PAD. On the CPU only; bf16 runs
where the CPU multiplies it natively. Run it alone: another process on the cores makes every parallel
operator wait for a time slice, and the step times mean nothing. The step times name the CPU they ran on.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.allocator import keep_freed_memory  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.data.fetch import fetch_dataset, mirror_root  # noqa: E402
from pipeline.data.registry import get  # noqa: E402
from pipeline.layout import RAW  # noqa: E402
from pipeline.losses import sequence_ce  # noqa: E402
from pipeline.models import build_model  # noqa: E402
from pipeline.snapshots.machine import machine  # noqa: E402
from pipeline.text import batches as TB  # noqa: E402
from pipeline.text import corpus  # noqa: E402
from pipeline.text import tokenizer as tk  # noqa: E402
from pipeline.training.builders import cpu_has_native_bf16  # noqa: E402

PARTS = ("output projection", "loss", "attention", "other matmuls", "layer norm", "optimizer", "other")


def part_of(name: str, shapes: str, vocab: int) -> str:
    """The part of the step an operator belongs to (its name and input shapes, from the profiler)."""
    n = name.lower()
    if any(k in n for k in ("log_softmax", "nll_loss", "cross_entropy")):
        return "loss"
    if any(k in n for k in ("attention", "bmm", "_softmax", "softmax_backward")):
        return "attention"
    if any(k in n for k in ("addmm", "aten::mm", "matmul", "linear")):
        return "output projection" if re.search(rf"\b{vocab}\b", shapes) else "other matmuls"
    if "layer_norm" in n:
        return "layer norm"
    return "other"


def setup(profile: str, device: torch.device):
    p = load_params(ROOT / "params.yaml")
    prof = p["profiles"][profile]["translation"]
    t = {**p["translation"], **prof}  # shared settings, and the profile's (lr, sizes)
    raw = RAW / "multi30k"
    fetch_dataset(get("multi30k"), raw, mirror_root())
    en, de = corpus.read_split(raw, "train")
    tok_en, tok_de = tk.train(en, prof["vocab_size"], "en"), tk.train(de, prof["vocab_size"], "de")
    cfg = {**prof["model"], "dropout": t["dropout"], "init": t["init"], "src_vocab": tok_en.get_vocab_size()}
    split = TB.to_device({"src": TB.pack(tk.encode(tok_en, en), bos=False),
                          "tgt": TB.pack(tk.encode(tok_de, de), bos=True)}, device)
    return t, cfg, tok_de.get_vocab_size(), TB.TrainBatches(split, t["batch_size"], seed=0)


def measure(t: dict, cfg: dict, vocab: int, batches, device: torch.device, half: bool, steps: int) -> dict:
    torch.manual_seed(0)
    model = build_model("transformer", (), vocab, cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=t["lr"], betas=tuple(t["adam"]["betas"]), eps=t["adam"]["eps"])
    phases, pad, pos, step = dict.fromkeys(("batch", "forward", "loss", "backward", "optimizer"), 0.0), 0, 0, 0

    def one(timed: bool):
        nonlocal pad, pos, step
        clock = [time.perf_counter()]

        def lap(name):
            clock.append(time.perf_counter())
            if timed:
                phases[name] += clock[-1] - clock[-2]
        (src, tgt_in), tgt_out = batches(step, None)
        step += 1
        lap("batch")
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=half):
            with torch.profiler.record_function("forward"):
                logits = model((src, tgt_in))
            lap("forward")
            with torch.profiler.record_function("loss"):
                loss = sequence_ce(logits, tgt_out, 0.1, tk.PAD)
            lap("loss")
        with torch.profiler.record_function("backward"):
            opt.zero_grad(set_to_none=True)
            loss.backward()
        lap("backward")
        with torch.profiler.record_function("optimizer"):
            opt.step()
            loss.item()
        lap("optimizer")
        if timed:
            pad, pos = pad + int((src == tk.PAD).sum() + (tgt_in == tk.PAD).sum()), pos + src.numel() + tgt_in.numel()
    for _ in range(3):
        one(False)
    for _ in range(steps):
        one(True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(3):
            one(False)
    share = dict.fromkeys(PARTS, 0.0)
    for e in prof.events():
        scope = e
        while scope is not None and scope.name not in phases:
            scope = scope.cpu_parent
        if scope is None or e.name in phases:
            continue
        part = "optimizer" if scope.name == "optimizer" else part_of(e.name, str(e.input_shapes), vocab)
        share[part] += e.self_cpu_time_total
    total = sum(share.values())
    step_s = sum(phases.values()) / steps
    return {"precision": "bf16" if half else "fp32", "step_s": step_s, "pairs_per_s": t["batch_size"] / step_s,
            "phases": {k: v / steps / step_s for k, v in phases.items()},
            "parts": {k: v / total for k, v in share.items()}, "pad_share": pad / pos}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper", help="whose Transformer size (params.yaml profiles)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    device = torch.device("cpu")  # phases are timed without CUDA syncs, and the profile is of CPU operators
    t, cfg, vocab, batches = setup(a.profile, device)
    native = cpu_has_native_bf16()
    rows = [measure(t, cfg, vocab, batches, device, half, a.steps) for half in (False, True)[:2 if native else 1]]
    where = machine(device.type)
    print(f"{where.get('gpu') or where['cpu']}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"Transformer of profile {a.profile!r} ({cfg['d_model']}, {cfg['enc_layers']}+{cfg['dec_layers']} layers, "
          f"vocab {vocab}), batch {t['batch_size']}, {a.steps} steps")
    for r in rows:
        print(f"\n{r['precision']}: {r['step_s'] * 1000:.0f} ms a step, {r['pairs_per_s']:.0f} pairs/s; "
              f"PAD {r['pad_share']:.0%} of positions")
        print("  phases: " + ", ".join(f"{k} {v:.0%}" for k, v in r["phases"].items()))
        print("  operators' own time: " + ", ".join(f"{k} {v:.0%}" for k, v in r["parts"].items()))
    if len(rows) == 2:
        print(f"\nbf16 / fp32 step time: {rows[1]['step_s'] / rows[0]['step_s']:.2f}")
    if a.json:
        from pipeline.io import write_json
        write_json(Path(a.json), {"device": where, "profile": a.profile, "model": cfg, "vocab": vocab,
                                  "batch": t["batch_size"], "steps": a.steps, "rows": rows})
    return 0


if __name__ == "__main__":
    keep_freed_memory()  # as the stages do, so the figures are theirs
    sys.exit(main())
