"""Projected device time of each piece of a GPU plan, from FLOP counts.

Training FLOPs of a piece = Σ over models of samples (benchmarks/cost.py, from the piece's params)
× training FLOPs per sample (counted here: the FCN from its layer shapes, the others by PyTorch's
FlopCounterMode on one training step of the profile's model; the Transformer on a pair of the
Multi30k training split's mean length). Two times per piece: the floor at the bf16 peak of the
plan's `device` (no piece can run faster), and the planning figure at the plan's assumed fraction
of that peak per model (`utilisation`), replaced by the measured (b)/(c) rates once a GPU session's
benchmark is in results/<profile>/provenance.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from pipeline.snapshots.plan import load_plan, piece_params, plan_file

ROOT = Path(__file__).resolve().parents[2]
MEAN_PAIR = (14, 15)  # Multi30k train: 12.7 source and 13.1 target BPE tokens a pair, + EOS / BOS


def flops_per_sample(p: dict) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from zoo import train_flops

    from pipeline.models import build_model
    dims = [784, *p["fcn"]["hidden"], 10]
    out = {"fcn": 6.0 * sum(a * b for a, b in zip(dims, dims[1:]))}
    for arch in ("alexnet", "resnet56"):
        torch.manual_seed(0)
        model = build_model(arch, (3, 32, 32), 10, p["convnets"][arch]["model"])
        x, y = torch.rand(2, 3, 32, 32), torch.tensor([0, 1])
        if arch == "alexnet":
            x = x[:, :, :p["convnets"][arch]["model"]["crop"], :p["convnets"][arch]["model"]["crop"]]
        out[arch] = train_flops(model, lambda: torch.nn.functional.cross_entropy(model(x), y)) / 2
    tr = p["profiles"][p["profile"]]["translation"]
    v = tr["vocab_size"]
    model = build_model("transformer", (), v, {**tr["model"], "dropout": 0.0, "init": "xavier", "src_vocab": v})
    src, tgt = torch.randint(4, v, (1, MEAN_PAIR[0])), torch.randint(4, v, (1, MEAN_PAIR[1]))
    out["transformer"] = train_flops(model, lambda: torch.nn.functional.cross_entropy(
        model((src, tgt[:, :-1])).flatten(0, 1), tgt[:, 1:].flatten()))
    return out


def measured_rates(profile: str) -> dict[str, float] | None:
    """samples/s per model from the last GPU session's benchmark ((c) where the stages stack)."""
    prov = ROOT / "results" / profile / "provenance.json"
    sessions = json.loads(prov.read_text()).get("sessions", []) if prov.exists() else []
    bench = next((s["benchmark"] for s in reversed(sessions) if s.get("benchmark") and s["machine"].get("gpu")), None)
    if not bench:
        return None
    names = {"FCN-1200": "fcn", "AlexNet": "alexnet", "ResNet-56": "resnet56"}
    rates = {}
    for r in bench["rows"]:
        key = names.get(r["model"]) or ("transformer" if r["model"].startswith("Transformer") else None)
        if key and key not in rates:
            rates[key] = r["c"] or r["b"]
    return rates


def estimate_table(profile: str) -> str:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cost import training_samples
    plan = load_plan(plan_file(profile), "independent")
    from pipeline.config import yaml12  # params as DVC reads them (YAML 1.2)
    base = yaml12.load((ROOT / "params.yaml").read_text())
    peak, util = plan["device"]["bf16_peak_tflops"] * 1e12, plan["utilisation"]
    fps = flops_per_sample(piece_params(base, plan, plan["pieces"][0]) | {"profile": profile})
    rates = measured_rates(profile)
    rows = [f"Pieces of results/{profile}/gpu_plan.yaml, in priority order. FLOP/sample: "
            + ", ".join(f"{k} {v / 1e6:,.0f} M" for k, v in fps.items())
            + f". Floor: at {peak / 1e12:.0f} TFLOP/s. Planning: at "
            + (", ".join(f"{k} {v:.0%}" for k, v in util.items()) + " of it (assumed)" if not rates
               else "the rates the last GPU session measured"), "",
            "| piece | samples (M) | training PFLOP | floor (min) | planning (min) |", "|---|---|---|---|---|"]
    total = 0.0
    for piece in plan["pieces"]:
        p = piece_params(base, plan, piece)
        samples = training_samples(p, piece["stages"])
        flops = sum(samples[m] * fps[m] for m in samples)
        plan_s = sum(samples[m] / rates[m] if rates and rates.get(m) else samples[m] * fps[m] / (peak * util[m])
                     for m in samples)
        total += plan_s
        rows.append(f"| {piece['name']} | " + ", ".join(f"{m} {s / 1e6:,.1f}" for m, s in samples.items() if s)
                    + f" | {flops / 1e15:,.1f} | {flops / peak / 60:,.1f} | {plan_s / 60:,.1f} |")
    rows += ["", f"All pieces: {total / 3600:,.2f} h of device time at the planning figure."]
    return "\n".join(rows)
