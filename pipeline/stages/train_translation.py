"""DVC stage `train_translation`: Transformers for Multi30k EN→DE, with and without label smoothing.

Usage: python -m pipeline.stages.train_translation
Trains one model per α of {0} ∪ {alpha} (∪ sweep when `transformer` is in the
profile's sweep_models) and per seed, in the generic training loop, through the execution
backend (inline, local workers or SLURM: pipeline/training/backend.py), and keeps
each under models/translation/alpha_<a>_seed_<s>/ (model.pt, curve.json,
metrics.json with teacher-forced token accuracy / NLL / ECE on val and test at
T = 1). Unchanged runs are reused and interrupted ones resume. Writes
metrics/translation_train.json and plots/translation_train.csv.
"""
from __future__ import annotations

from ..config import alphas_to_train, load_params
from ..io import curves_csv, prune, read_json, write_json, write_text
from ..layout import (
    TOKENIZED,
    TRANSLATION,
    TRANSLATION_CURVES,
    TRANSLATION_TRAIN_METRICS,
    alpha_key,
    translation_run_dir,
)
from ..stage import run
from ..text.translation_run import TRANSLATION_TRAINER, translation_config
from ..training.backend import Job, stage_device, train_runs


def main() -> int:
    p = load_params()
    meta = read_json(TOKENIZED / "multi30k.json")
    pairs = meta["stats"]["train"]["pairs"]
    runs = [(a, s) for a in alphas_to_train(p, "transformer") for s in p["active"]["translation"]["seeds"]]
    jobs = [Job(translation_run_dir(a, s), translation_config(p, a, s, meta["vocab"], pairs)) for a, s in runs]
    done = train_runs(jobs, stage_device(p["execution"]), p["execution"], TRANSLATION_TRAINER)  # inline, local or slurm
    summary, curves, keep = {}, [], set()
    for (alpha, seed), job, m in zip(runs, jobs, done):
        keep.add(job.run_dir.name)
        curves.append((f"alpha={alpha:g} seed={seed}", read_json(job.run_dir / "curve.json")))
        summary.setdefault(alpha_key(alpha), {})[f"seed_{seed}"] = {
            "test_token_acc": round(m["test"]["acc"], 4), "test_nll": round(m["test"]["nll"], 5),
            "test_ece": round(m["test"]["ece"], 5), "final_train_loss": round(m["final_train_loss"], 5)}
        print(f"train_translation: alpha={alpha:g} seed={seed}: test token acc {m['test']['acc']:.2f}%, "
              f"NLL {m['test']['nll']:.3f}" + (" (reused)" if m["reused"] else f" ({m['seconds']:.0f}s)"))
    prune(TRANSLATION, keep)
    write_text(TRANSLATION_CURVES, curves_csv(curves))
    write_json(TRANSLATION_TRAIN_METRICS, summary)
    return 0


if __name__ == "__main__":
    run(main)
