"""DVC stage `train`: the classifiers of Tables 2 and 3 (FCN, AlexNet, ResNet-56/34/50).

Usage: python -m pipeline.stages.train
Trains every (model, dataset) of `profiles.<profile>.classifiers`, at every
alpha of {0} ∪ sweep ∪ {alpha} for the profile's `sweep_models` and at 0 and
`alpha` for the others, for every seed. Each run keeps its model, val/test
logits and metrics (and weight snapshots where its schedule asks for them)
under models/classifiers/<model>/<dataset>/alpha_<a>_seed_<s>/, so later
stages never retrain. Runs whose configuration, data and code are unchanged
are reused; an interrupted run resumes from its last state (the folder is a
persistent DVC output). Writes metrics/train.json (accuracy per model,
dataset and alpha, mean ± std over seeds) and plots/train/<model>_<dataset>.csv
(training curves).
"""
from __future__ import annotations

from ..config import alphas_to_train, classifiers, load_params
from ..formulas.spread import mean_std
from ..io import curves_csv, prune, read_json, write_json, write_text
from ..layout import CLASSIFIERS, TRAIN_CURVES, TRAIN_METRICS, alpha_key, run_dir
from ..run_configs import classifier_config
from ..stage import run
from ..training.backend import stage_device, train_runs
from ..training.dispatch import CLASSIFIER_TRAINER, Job


def summarise(runs: list[dict]) -> dict:
    """Mean and (sample) std over seeds of the per-run metrics."""
    out = {}
    for name in ("test_acc", "test_nll", "val_acc"):
        out[name], std = mean_std([r[name] for r in runs], 4)
        if name == "test_acc":
            out["test_acc_std"] = std
    out["n_seeds"] = len(runs)
    return out


def main() -> int:
    p = load_params()
    device = stage_device(p["execution"])
    seeds = p["active"]["seeds"]
    runs = [(arch, dataset, alpha, seed) for arch, dataset in classifiers(p)
            for alpha in alphas_to_train(p, arch) for seed in seeds]
    jobs = [Job(run_dir(arch, ds, alpha, seed), classifier_config(p, arch, ds, seed, alpha))
            for arch, ds, alpha, seed in runs]
    # same-shaped FCNs stack on CUDA
    results = dict(zip(runs, train_runs(jobs, device, p["execution"], CLASSIFIER_TRAINER)))
    summary: dict = {}
    keep = {j.run_dir for j in jobs}
    for arch, dataset in classifiers(p):
        out, curves = {}, []
        for alpha in alphas_to_train(p, arch):
            for seed in seeds:
                m = results[(arch, dataset, alpha, seed)]
                curves.append((f"alpha={alpha:g} seed={seed}", read_json(run_dir(arch, dataset, alpha, seed)
                                                                          / "curve.json")))
                print(f"train: {arch} {dataset} alpha={alpha:g} seed={seed}: test acc {m['test_acc']:.2f}%"
                      + (" (reused)" if m["reused"] else f" ({m['seconds']:.0f}s)"))
            out[alpha_key(alpha)] = summarise([results[(arch, dataset, alpha, s)] for s in seeds])
        hard, ls = out[alpha_key(0.0)], out[alpha_key(p["alpha"])]
        out["head_to_head"] = {"alpha": p["alpha"], "hard_test_acc": hard["test_acc"],
                               "ls_test_acc": ls["test_acc"], "delta": round(ls["test_acc"] - hard["test_acc"], 4)}
        summary.setdefault(arch, {})[dataset] = out
        write_text(TRAIN_CURVES / f"{arch}_{dataset}.csv", curves_csv(curves))
    # Drop runs (and models, datasets) that the current params no longer ask for.
    prune(CLASSIFIERS, {d.parents[1].name for d in keep})
    for arch_dir in CLASSIFIERS.iterdir() if CLASSIFIERS.exists() else []:
        prune(arch_dir, {d.parent.name for d in keep if d.parents[1] == arch_dir})
        for ds_dir in arch_dir.iterdir():
            prune(ds_dir, {d.name for d in keep if d.parent == ds_dir})
    prune(TRAIN_CURVES, {f"{a}_{ds}.csv" for a, ds in classifiers(p)})
    write_json(TRAIN_METRICS, summary)
    return 0


if __name__ == "__main__":
    run(main)
