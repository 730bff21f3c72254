"""DVC stage `sweep_teachers`: the Figure 7 teachers (FCN 1200-1200 at each α of the profile).

Usage: python -m pipeline.sweep_teachers
Writes models/sweep_teachers/alpha_<a>_seed_<s>/. Their test accuracy is curve M1.
"""
from __future__ import annotations

from .config import load_params
from .io import prune
from .layout import SWEEP_TEACHERS, alpha_key
from .runs import fcn_run_config, label_smoothing
from .stage import run
from .training.builders import resolve_device
from .training.run import train_run


def main() -> int:
    p = load_params()
    d = p["distill"]
    device = resolve_device(p["train"]["device"])
    keep = set()
    for a in p["budget"]["distill_alphas"]:
        for seed in p["budget"]["seeds"]:
            cfg = fcn_run_config(p, d["dataset"], seed, hidden=d["teacher_hidden"], dropout=0.0,
                                 max_shift=d["teacher_max_shift"], loss=label_smoothing(a))
            out = SWEEP_TEACHERS / f"{alpha_key(a)}_seed_{seed}"
            keep.add(out.name)
            m = train_run(out, cfg, device, p["train"])
            print(f"sweep teacher alpha={a:g} seed={seed}: test acc {m['test_acc']:.2f}%"
                  + (" (reused)" if m["reused"] else ""))
    prune(SWEEP_TEACHERS, keep)
    return 0


if __name__ == "__main__":
    run(main)
