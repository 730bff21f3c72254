"""fp32 against bf16 on one paper-scale run: does CPU bf16 autocast move the results?

    python tools/precision.py reference [models/classifiers/fcn/mnist/alpha_0_seed_0]

Retrains one finished run of a snapshot's work tree (.results/<profile>/, the
work tree's own code and data) with `execution.precision: fp32`, same config and
seed, and compares test accuracy, NLL and ECE with the bf16 run and with the
spread over seeds of the same configuration in the snapshot. Writes
results/<profile>/precision.json; the fp32 run stays in the work tree
(precision/<run>_fp32/), so a second call only recomputes the comparison.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    profile = sys.argv[1]
    run = Path(sys.argv[2] if len(sys.argv) > 2 else "models/classifiers/fcn/mnist/alpha_0_seed_0")
    work, out = ROOT / ".results" / profile, ROOT / "results" / profile
    os.chdir(work)
    sys.path.insert(0, str(work))  # the code the snapshot's runs were trained with
    import torch

    from pipeline import calibration as cal
    from pipeline.config import load_params
    from pipeline.io import load_tensors, read_json, write_json
    from pipeline.training.run import train_run

    bf16 = read_json(run / "metrics.json")
    train_cfg = load_params()["train"] | {"precision": "fp32"}
    t0 = time.time()
    fp32 = train_run(Path("precision") / f"{run.name}_fp32", bf16["config"], torch.device("cpu"), train_cfg)
    seconds = fp32.get("seconds", round(time.time() - t0))

    def ece(d: Path) -> float:
        z = load_tensors(d / "logits.pt")
        return cal.ece_from_logits(z["test_logits"], z["test_labels"], 1.0, 15)

    # one record per seed: the same run can sit in two folders (Figure 7's α = 0 teacher is Table 2's run)
    same = list({r["config"]["seed"]: r for r in json.loads((out / "runs.json").read_text())
                 if {k: v for k, v in r["config"].items() if k != "seed"}
                 == {k: v for k, v in bf16["config"].items() if k != "seed"}}.values())
    spread = {k: statistics.stdev([r[k] for r in same]) if len(same) > 1 else None
              for k in ("test_acc", "test_nll", "test_ece")}
    rows = {"bf16": {"test_acc": bf16["test_acc"], "test_nll": bf16["test_nll"], "test_ece": ece(run),
                     "execution": bf16["execution"]},
            "fp32": {"test_acc": fp32["test_acc"], "test_nll": fp32["test_nll"],
                     "test_ece": ece(Path("precision") / f"{run.name}_fp32"), "execution": fp32["execution"],
                     "seconds": seconds}}
    diff = {k: rows["bf16"][k] - rows["fp32"][k] for k in spread}
    within = {k: (abs(diff[k]) <= spread[k]) if spread[k] is not None else None for k in spread}
    write_json(out / "precision.json", {"run": str(run), "config": bf16["config"], "runs": rows,
                                        "bf16_minus_fp32": diff, "seed_std": spread, "n_seeds": len(same),
                                        "within_one_seed_std": within})
    for k in spread:
        print(f"{k}: bf16 {rows['bf16'][k]:.4f}, fp32 {rows['fp32'][k]:.4f}, difference {diff[k]:+.4f}; "
              f"seed std {spread[k] if spread[k] is None else round(spread[k], 4)} (n={len(same)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
