"""Probe a snapshot: retrain recorded runs with some of their configuration changed, recorded beside them.

    python tools/probe.py PROFILE NAME RUN [RUN ...] --into DIR [--set KEY=VALUE ...] [--precision fp32]

e.g. the replication's shift draw on Fashion-MNIST α = 0, seeds 0 and 1:

    python tools/probe.py reference rounded_shift models/classifiers/fcn/fashion_mnist/alpha_0_seed_0 \\
        models/classifiers/fcn/fashion_mnist/alpha_0_seed_1 --set input.shift_draw=rounded --into /tmp/probes

Each RUN's configuration with every KEY (a dotted path in it; VALUE read as YAML) set is trained with today's
code, its seed, its execution (or --precision) and the prepared data of its recorded sha256 (data/prepared/,
`dvc repro preprocess`), and recorded as models/probes/NAME/<RUN below models/> in results/PROFILE/runs.json, with
its per-example predictions (pipeline/snapshots/probes.py). A probe already recorded is not trained again. Prints
every probe of the snapshot beside the run it varies and that run's seeds.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("name", help="the probe's name: lower-case letters, digits and _")
    ap.add_argument("runs", nargs="+", help="record names, e.g. models/classifiers/fcn/mnist/alpha_0_seed_0")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a change to each run's config")
    ap.add_argument("--precision", choices=("fp32", "bf16"))
    ap.add_argument("--into", type=Path, required=True, help="a folder for the runs trained here")
    a = ap.parse_args()
    from pipeline.allocator import keep_freed_memory
    from pipeline.snapshots.probes import probe, probe_rows
    from pipeline.snapshots.records import SnapshotError, read_records
    bad = [s for s in a.set if "=" not in s]
    if bad:
        print(f"error: --set {bad[0]!r}: expected KEY=VALUE", file=sys.stderr)
        return 2
    changes = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in a.set)}
    keep_freed_memory()
    snap = ROOT / "results" / a.profile
    try:
        for run in a.runs:
            rec = probe(snap, run, a.name, changes, a.into.resolve(), a.precision)
            print(f"{rec['run']}: test accuracy {rec['test_acc']:.2f} %, {rec['seconds']} s", flush=True)
        rows = probe_rows(read_records(snap / "runs.json"))
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("| probe | run | seed | set | precision | test acc | same seed | difference | seeds (n) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        std = f" ± {r['seeds_std']:.2f}" if r["seeds_std"] is not None else ""
        print(f"| {r['probe']} | {r['run'].removeprefix('models/')} | {r['seed']} | {r['set']} | {r['precision']} | "
              f"{r['test_acc']:.2f} | {r['same_seed']:.2f} | {r['difference']:+.2f} | "
              f"{r['seeds_mean']:.2f}{std} ({r['n_seeds']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
