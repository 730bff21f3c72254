"""DVC stage `student@<name>`: FCN 800-800 students of one Table 4 teacher.

Usage: python -m pipeline.stages.student <name>
Loss: ce_weight·CE(y, q) + (1−ce_weight)·½·Σ(student logit − teacher logit)²
(Müller; pipeline/losses.py). With `compare_probabilities`, a second student
regresses on the teacher's probabilities instead (the replication's defect),
so the difference is measured. Students see no augmentation and no dropout.
Writes models/students/<name>/ and metrics/table4/<name>.json (errors in %).
"""
from __future__ import annotations

import sys

from ..config import ParamError, load_params
from ..formulas.spread import test_error
from ..io import prune, read_json, write_json
from ..layout import STUDENTS, TABLE4_METRICS, TEACHERS
from ..run_configs import fcn_run_config, logit_regression
from ..stage import run
from ..training.backend import stage_device, train_runs
from ..training.dispatch import CLASSIFIER_TRAINER, Job


def main() -> int:
    p = load_params()
    d, t4 = p["distill"], p["distill"]["table4"]
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in t4["teachers"]:
        raise ParamError("distill.table4.teachers", name, "one of " + ", ".join(t4["teachers"]))
    variants = [t4["regress_on"]]
    if t4["compare_probabilities"] and t4["regress_on"] != "probabilities":
        variants.append("probabilities")
    device = stage_device(p["execution"])
    seeds = p["active"]["distill_seeds"]
    tdirs = {seed: TEACHERS / name / f"seed_{seed}" for seed in seeds}
    teachers = [read_json(tdirs[seed] / "metrics.json") for seed in seeds]
    runs = [(seed, v) for seed in seeds for v in variants]
    jobs = [Job(STUDENTS / name / f"{v}_seed_{seed}",
                fcn_run_config(p, d["dataset"], seed, hidden=d["student_hidden"], dropout=0.0,
                               max_shift=d["student_max_shift"],
                               loss=logit_regression(t4["ce_weight"], v, t4["squared_error"]),
                               teacher=tm["key"], lr=t4["student_lr"]), tdirs[seed])
            for seed, tm in zip(seeds, teachers) for v in variants]
    students = {v: [] for v in variants}
    done = train_runs(jobs, device, p["execution"], CLASSIFIER_TRAINER)  # students stack on CUDA
    for (seed, v), m in zip(runs, done):
        students[v].append(m)
        print(f"student of {name} (regress on {v}) seed={seed}: test error {100 - m['test_acc']:.2f}%"
              + (" (reused)" if m["reused"] else ""))
    prune(STUDENTS / name, {j.run_dir.name for j in jobs})
    write_json(TABLE4_METRICS / f"{name}.json",
               {"teacher": test_error(teachers), "n_seeds": len(teachers),
                **{f"student_{v}": test_error(ms) for v, ms in students.items()}})
    return 0


if __name__ == "__main__":
    run(main)
