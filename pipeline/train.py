"""DVC stage `train`: the classifiers of Table 2 on the MNIST family (FCN).

Usage: python -m pipeline.train
Trains every (dataset, alpha, seed) with alpha in {0} ∪ sweep ∪ {alpha}. Each
run keeps its model, val/test logits and metrics under
models/fcn/<dataset>/alpha_<a>_seed_<s>/, so later stages never retrain. Runs
whose configuration, data and code are unchanged are reused; an interrupted
run resumes from its last state (the folder is a persistent DVC output).
Writes metrics/train.json (accuracy per dataset and alpha, mean ± std over
seeds) and plots/train/<dataset>.csv (training curves).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .config import alphas_to_train, load_params
from .io import prune, read_json, write_json, write_text
from .layout import FCN_MODELS, TRAIN_CURVES, TRAIN_METRICS, alpha_key, fcn_run_dir
from .runs import fcn_run_config, label_smoothing
from .seeds import mean_std
from .stage import run
from .training.builders import resolve_device
from .training.run import train_run


def summarise(runs: list[dict]) -> dict:
    """Mean and (sample) std over seeds of the per-run metrics."""
    out = {}
    for name in ("test_acc", "test_nll", "val_acc"):
        out[name], std = mean_std([r[name] for r in runs], 4)
        if name == "test_acc":
            out["test_acc_std"] = std
    out["n_seeds"] = len(runs)
    return out


def curves_csv(rows: list[tuple[str, list[dict]]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "loss", "run"])
    for label, curve in rows:
        for pt in curve:
            w.writerow([pt["step"], f"{pt['loss']:.6g}", label])
    return buf.getvalue()


def main() -> int:
    p = load_params()
    device = resolve_device(p["train"]["device"])
    alphas, seeds = alphas_to_train(p), p["budget"]["seeds"]
    summary: dict = {}
    keep: set[Path] = set()
    for dataset in p["budget"]["datasets"]:
        summary[dataset], curves = {}, []
        for alpha in alphas:
            runs = []
            for seed in seeds:
                d = fcn_run_dir(dataset, alpha, seed)
                keep.add(d)
                f = p["fcn"]
                cfg = fcn_run_config(p, dataset, seed, hidden=f["hidden"], dropout=f["dropout"],
                                     max_shift=f["max_shift"], loss=label_smoothing(alpha))
                m = train_run(d, cfg, device, p["train"])
                runs.append(m)
                curves.append((f"alpha={alpha:g} seed={seed}", read_json(d / "curve.json")))
                print(f"train: {dataset} alpha={alpha:g} seed={seed}: test acc {m['test_acc']:.2f}%"
                      + (" (reused)" if m["reused"] else f" ({m['seconds']:.0f}s)"))
            summary[dataset][alpha_key(alpha)] = summarise(runs)
        hard, ls = summary[dataset][alpha_key(0.0)], summary[dataset][alpha_key(p["alpha"])]
        summary[dataset]["head_to_head"] = {"alpha": p["alpha"], "hard_test_acc": hard["test_acc"],
                                            "ls_test_acc": ls["test_acc"],
                                            "delta": round(ls["test_acc"] - hard["test_acc"], 4)}
        write_text(TRAIN_CURVES / f"{dataset}.csv", curves_csv(curves))
    # Drop runs (and datasets) that the current params no longer ask for.
    prune(FCN_MODELS, {d.parent.name for d in keep})
    for ds in p["budget"]["datasets"]:
        prune(FCN_MODELS / ds, {d.name for d in keep if d.parent.name == ds})
    prune(TRAIN_CURVES, {f"{ds}.csv" for ds in p["budget"]["datasets"]})
    write_json(TRAIN_METRICS, summary)
    return 0


if __name__ == "__main__":
    run(main)
