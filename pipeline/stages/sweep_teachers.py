"""DVC stage `sweep_teachers`: the teachers of Figures 7 and 8 at each α of the profile.

Usage: python -m pipeline.stages.sweep_teachers
Figure 7: FCN 1200-1200 on MNIST. Figure 8 (where the profile names
`figure8_dataset`): ResNet-56 on CIFAR-10. Writes
models/sweep_teachers/<figure>/alpha_<a>_seed_<s>/; their test accuracy is curve M1.
"""
from __future__ import annotations

from ..config import distill_figures, load_params
from ..io import prune
from ..layout import SWEEP_TEACHERS, alpha_key
from ..run_configs import sweep_teacher_config
from ..stage import run
from ..training.backend import stage_device, train_runs
from ..training.dispatch import CLASSIFIER_TRAINER, Job


def main() -> int:
    p = load_params()
    device = stage_device(p["execution"])
    figures = distill_figures(p)
    for figure, setup in figures.items():
        runs = [(a, seed) for a in p["active"]["distill_alphas"] for seed in p["active"]["distill_seeds"]]
        jobs = [Job(SWEEP_TEACHERS / figure / f"{alpha_key(a)}_seed_{seed}", sweep_teacher_config(p, setup, a, seed))
                for a, seed in runs]
        done = train_runs(jobs, device, p["execution"], CLASSIFIER_TRAINER)  # FCN teachers stack on CUDA
        for (a, seed), m in zip(runs, done):
            print(f"sweep teacher {figure} {setup['teacher']} alpha={a:g} seed={seed}: "
                  f"test acc {m['test_acc']:.2f}%" + (" (reused)" if m["reused"] else ""))
        prune(SWEEP_TEACHERS / figure, {j.run_dir.name for j in jobs})
    prune(SWEEP_TEACHERS, set(figures))
    return 0


if __name__ == "__main__":
    run(main)
