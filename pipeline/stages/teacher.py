"""DVC stage `teacher@<name>`: one Table 4 teacher (FCN 1200-1200, ±2 px shifts), per seed.

Usage: python -m pipeline.stages.teacher <name>   (name: a key of distill.table4.teachers)
Writes models/teachers/<name>/seed_<s>/; this folder is the stage's only output,
so no other stage can overwrite a teacher, and a student can only load a
teacher that its own dependency produced.
"""
from __future__ import annotations

import sys

from ..config import ParamError, load_params
from ..io import prune
from ..layout import TEACHERS
from ..run_configs import fcn_run_config, label_smoothing
from ..stage import run
from ..training.backend import stage_device, train_runs
from ..training.dispatch import CLASSIFIER_TRAINER, Job


def main() -> int:
    p = load_params()
    d = p["distill"]
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in d["table4"]["teachers"]:
        raise ParamError("distill.table4.teachers", name, "one of " + ", ".join(d["table4"]["teachers"]))
    t = d["table4"]["teachers"][name]
    device = stage_device(p["execution"])
    seeds = p["active"]["distill_seeds"]
    jobs = [Job(TEACHERS / name / f"seed_{seed}",
                fcn_run_config(p, d["dataset"], seed, hidden=d["teacher_hidden"], dropout=t["dropout"],
                               max_shift=d["teacher_max_shift"], loss=label_smoothing(t["alpha"])))
            for seed in seeds]
    done = train_runs(jobs, device, p["execution"], CLASSIFIER_TRAINER)  # the seeds stack on CUDA (no dropout)
    for seed, m in zip(seeds, done):
        print(f"teacher {name} seed={seed}: test error {100 - m['test_acc']:.2f}%"
              + (" (reused)" if m["reused"] else ""))
    prune(TEACHERS / name, {j.run_dir.name for j in jobs})
    return 0


if __name__ == "__main__":
    run(main)
