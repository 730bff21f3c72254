"""bf16 against fp32 on sample runs of a results snapshot (pipeline/snapshots/precision.py).

    python tools/precision.py PROFILE --into DIR RUN [RUN ...]
    python tools/precision.py PROFILE --respread      # the seed spread again, after more seeds were recorded

Trains each named record again in fp32 with today's code, its seed and configuration (a student against
its teacher, trained as recorded in bf16), with the prepared data of the recorded sha256 in data/prepared/
(`dvc repro preprocess`), and writes results/PROFILE/precision.json: per run and metric, bf16, fp32, the
difference and the std over the snapshot's seeds. Prints the table for docs/results.md. On 2 cores of a
native-bf16 Xeon an FCN of the reference profile takes a few minutes in fp32.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("runs", nargs="*")
    ap.add_argument("--into", type=Path, help="a folder for the runs trained here")
    ap.add_argument("--respread", action="store_true",
                    help="recompute precision.json's seed spread from runs.json as it stands; trains nothing")
    a = ap.parse_args()
    if a.respread == bool(a.runs) or bool(a.runs) != bool(a.into):
        ap.error("give RUNs with --into, or --respread alone")
    from pipeline.allocator import keep_freed_memory
    from pipeline.io import read_json, write_json
    from pipeline.snapshots.precision import compare, respread, table
    from pipeline.snapshots.records import SnapshotError
    keep_freed_memory()
    try:
        snap = ROOT / "results" / a.profile
        if a.respread:
            if not (snap / "precision.json").exists():
                raise SnapshotError(f"{snap / 'precision.json'} does not exist: compare some runs first")
            result = respread(snap, read_json(snap / "precision.json"))
        else:
            result = compare(snap, a.runs, a.into.resolve())
    except (SnapshotError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_json(ROOT / "results" / a.profile / "precision.json", result)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
