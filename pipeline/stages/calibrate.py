"""DVC stage `calibrate`: ECE, temperature scaling and reliability diagrams (Table 3, Figs. 3 and 9).

Usage: python -m pipeline.stages.calibrate
Reads the logits every training run saved (never retrains). For every run:
ECE at T=1 on the test split; one temperature fitted by NLL on the
*validation* split and the test ECE after scaling; the ECE-optimal T of a grid,
also chosen on validation. Nothing is fitted on the test split.
Covers every (model, dataset) of the profile's classifiers. Writes
metrics/calibration.json, plots/reliability/<dataset>_<model>.json (per-bin
data for `dvc plots`) and plots/figures/reliability.png.
"""
from __future__ import annotations

import torch

from ..config import alphas_to_train, classifiers, load_params
from ..data import naming
from ..formulas import reliability as cal
from ..formulas.spread import mean_std
from ..io import load_tensors, prune, write_json
from ..layout import CALIBRATION_METRICS, FIGURES, RELIABILITY_PLOTS, alpha_key, run_dir
from ..models import title
from ..reporting.figures import reliability_figure
from ..stage import run
from ..training.integrity import verified


def calibrate_run(logits: dict, cfg: dict) -> dict:
    zv, yv, zt, yt = logits["val_logits"], logits["val_labels"], logits["test_logits"], logits["test_labels"]
    bins = cfg["n_bins"]
    fit = cal.fit_temperature(zv, yv)
    grid = torch.linspace(cfg["t_grid_min"], cfg["t_grid_max"], cfg["t_grid_steps"]).tolist()
    t_ece = cal.ece_optimal_temperature(zv, yv, grid, bins)
    return {"test_ece": cal.ece_from_logits(zt, yt, 1.0, bins),
            "temperature": fit.temperature,
            "test_ece_ts": cal.ece_from_logits(zt, yt, fit.temperature, bins),
            "val_nll": fit.nll_before, "val_nll_ts": fit.nll_after,  # the fit's guarantee: after ≤ before
            "val_ece": cal.ece_from_logits(zv, yv, 1.0, bins),
            "val_ece_ts": cal.ece_from_logits(zv, yv, fit.temperature, bins),
            "test_nll": cal.nll(zt, yt), "test_nll_ts": cal.nll(zt, yt, fit.temperature),
            "temperature_ece_grid": t_ece,
            "test_ece_at_grid_t": cal.ece_from_logits(zt, yt, t_ece, bins)}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for k in runs[0]:
        out[k], std = mean_std([r[k] for r in runs], 5)
        if k in ("test_ece", "test_ece_ts", "temperature") and len(runs) > 1:
            out[k + "_std"] = std
    out["n_seeds"] = len(runs)
    return out


def main() -> int:
    p = load_params()
    cfg, seeds = p["calibrate"], p["active"]["seeds"]
    metrics, panels = {}, {}
    for arch, ds in classifiers(p):
        out = metrics.setdefault(arch, {}).setdefault(ds, {})
        for a in alphas_to_train(p, arch):
            per_seed = [calibrate_run(load_tensors(verified(run_dir(arch, ds, a, s), "logits.pt")), cfg)
                        for s in seeds]
            out[alpha_key(a)] = summarise(per_seed)
            print(f"calibrate: {ds} {arch} alpha={a:g}: test ECE {out[alpha_key(a)]['test_ece']:.4f}, "
                  f"T = {out[alpha_key(a)]['temperature']:.3f}")
        # Reliability diagram on the test split, first seed: hard at T=1 and at its fitted T, LS at alpha.
        s0 = seeds[0]
        hard = load_tensors(verified(run_dir(arch, ds, 0.0, s0), "logits.pt"))
        ls = load_tensors(verified(run_dir(arch, ds, p["alpha"], s0), "logits.pt"))
        t_fit = cal.fit_temperature(hard["val_logits"], hard["val_labels"]).temperature
        z, y = hard["test_logits"], hard["test_labels"]
        bins = cfg["n_bins"]
        rows = (cal.reliability_rows(z, y, 1.0, "hard labels, T=1", bins)
                + cal.reliability_rows(z, y, t_fit, f"hard labels, T={t_fit:.2f} (fitted on val)", bins)
                + cal.reliability_rows(ls["test_logits"], ls["test_labels"], 1.0,
                                       f"label smoothing α={p['alpha']:g}, T=1", bins))
        write_json(RELIABILITY_PLOTS / f"{ds}_{arch}.json", rows)
        panels[f"{title(arch)} on {naming.title(ds)}"] = rows
    prune(RELIABILITY_PLOTS, {f"{ds}_{arch}.json" for arch, ds in classifiers(p)})
    reliability_figure(panels, FIGURES / "reliability.png",
                       f"Test split of seed {seeds[0]} (of {len(seeds)} seed(s)), profile {p['profile']}")
    write_json(CALIBRATION_METRICS, metrics)
    return 0


if __name__ == "__main__":
    run(main)
