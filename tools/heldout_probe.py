"""Does holding 5,000 images out for validation explain a gap to the replication (which trained on all 60,000)?

    python tools/heldout_probe.py PROFILE DATASET [ALPHA] [SEED]     # e.g. reference fashion_mnist 0 0

Retrains one FCN run of a snapshot on the training *and* validation images (60,000 for the MNIST
family), with the run's configuration, seed and execution and the same 100 epochs (the step count
recomputed for the larger set), using the snapshot work tree's code (.results/PROFILE/). The test split
is the same, so the difference to the snapshot's 55,000-image run is the effect of the held-out images
(plus one seed's worth of noise: compare it with the seed spread written beside it). Writes
results/PROFILE/heldout_probe_<dataset>.json. About 2.5 minutes on 2 cores in bf16.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    profile, dataset = sys.argv[1], sys.argv[2]
    alpha = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    work, out = ROOT / ".results" / profile, ROOT / "results" / profile
    probe = work / "probe_all_training_images"
    (probe / "data" / "prepared").mkdir(parents=True, exist_ok=True)
    if not (probe / "pipeline").exists():
        (probe / "pipeline").symlink_to(work / "pipeline")  # the run key hashes the training code by path
    sys.path.insert(0, str(work))  # the code the snapshot's runs were trained with
    import torch

    from pipeline.io import load_tensors, read_json, save_tensors, write_json
    from pipeline.training.run import train_run

    d = load_tensors(work / "data" / "prepared" / f"{dataset}.pt")
    meta = read_json(work / "data" / "prepared" / f"{dataset}.json")
    d["train_x"], d["train_y"] = torch.cat([d["train_x"], d["val_x"]]), torch.cat([d["train_y"], d["val_y"]])
    n = len(d["train_y"])
    save_tensors(probe / "data" / "prepared" / f"{dataset}.pt", d)
    write_json(probe / "data" / "prepared" / f"{dataset}.json", meta | {"sizes": meta["sizes"] | {"train": n}})
    name = f"alpha_{alpha:g}_seed_{seed}"
    base = read_json(work / "models" / "classifiers" / "fcn" / dataset / name / "metrics.json")
    cfg = base["config"] | {"steps": base["config"]["epochs"] * math.ceil(n / base["config"]["batch_size"])}
    from pipeline.config import yaml12  # params as DVC reads them (YAML 1.2)
    train_cfg = yaml12.load((work / "params.yaml").read_text())["train"]
    os.chdir(probe)
    m = train_run(Path("runs") / f"{dataset}_{name}", cfg, torch.device("cpu"), train_cfg)
    same = [r for r in json.loads((out / "runs.json").read_text())
            if r["run"].startswith(f"models/classifiers/fcn/{dataset}/alpha_{alpha:g}_seed_")]
    accs = [r["test_acc"] for r in same]
    result = {"dataset": dataset, "alpha": alpha, "seed": seed, "training_images": {"snapshot": n - len(d["val_y"]),
                                                                                    "probe": n},
              "steps": {"snapshot": base["config"]["steps"], "probe": cfg["steps"]},
              "test_acc": {"snapshot_same_seed": base["test_acc"], "probe": m["test_acc"],
                           "snapshot_seeds": accs, "snapshot_seed_std": statistics.stdev(accs) if len(accs) > 1
                           else None},
              "test_nll": {"snapshot_same_seed": base["test_nll"], "probe": m["test_nll"]},
              "execution": m["execution"], "seconds": m.get("seconds")}
    write_json(out / f"heldout_probe_{dataset}.json", result)
    std = result["test_acc"]["snapshot_seed_std"]
    print(f"{dataset} α={alpha:g} seed {seed}: test accuracy {base['test_acc']:.2f} % on {n - len(d['val_y'])} "
          f"training images, {m['test_acc']:.2f} % on {n}; seed std of the snapshot {std}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
