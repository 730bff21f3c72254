"""bf16 against fp32 on sample runs of a results snapshot (pipeline/snapshots/precision.py).

    python tools/precision.py PROFILE --into DIR RUN [RUN ...]

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
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--into", type=Path, required=True, help="a folder for the runs trained here")
    a = ap.parse_args()
    from pipeline.allocator import keep_freed_memory
    from pipeline.io import write_json
    from pipeline.snapshots.precision import compare, table
    from pipeline.snapshots.records import SnapshotError
    keep_freed_memory()
    try:
        result = compare(ROOT / "results" / a.profile, a.runs, a.into.resolve())
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_json(ROOT / "results" / a.profile / "precision.json", result)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
