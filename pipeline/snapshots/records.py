"""A snapshot's files read back with checks: runs.json's records and provenance.json.

Both come from outside the running process (a returned GPU session, a file in git that may be damaged),
so every read here names the file and what is wrong with it in one line (``SnapshotError``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

PREDICTIONS = re.compile(r"predictions/[A-Za-z0-9_.=/-]+\.npz")
RUN_NAME = re.compile(r"[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*")
RECORD_KEYS = {"run": str, "key": str, "config": dict, "execution": dict, "data_sha256": str}
# Metrics with a range, checked where a record has them: accuracies in %, calibration errors and the gap in [0, 1]
# (the gap in [−1, 1]), losses and temperatures positive.
RANGES = {"test_acc": (0, 100), "val_acc": (0, 100), "test_ece": (0, 1), "test_ece_ts": (0, 1),
          "test_confidence_gap": (-1, 1), "test_nll": (0, float("inf")), "test_nll_ts": (0, float("inf")),
          "temperature": (0, float("inf"))}


class SnapshotError(ValueError):
    """A damaged or malformed snapshot file: reported in one line, never a traceback."""


def read_checked(path: Path, kind: type):
    """The JSON value in ``path``, which must be a ``kind``."""
    try:
        value = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SnapshotError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SnapshotError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(value, kind):
        raise SnapshotError(f"{path} holds a {type(value).__name__}, not a {kind.__name__}")
    return value


def read_records(path: Path) -> list[dict]:
    """runs.json: a list of run records, each with the fields a run's key is recomputed from."""
    records = read_checked(path, list)
    for i, r in enumerate(records):
        bad = [k for k, t in RECORD_KEYS.items() if not isinstance(r, dict) or not isinstance(r.get(k), t)]
        if not bad and not _inside(r["run"]):
            bad = ["run (a relative folder name, no '..')"]
        if not bad and not re.fullmatch(r"[0-9a-f]{64}", r["data_sha256"]):
            bad = ["data_sha256 (64 hex digits)"]
        if not bad and not isinstance(r["config"].get("arch"), str):
            bad = ["config.arch"]
        if not bad:
            bad = _optional_problems(r)
        if not bad:
            bad = [f"{k} (in [{lo:g}, {hi:g}])" for k, (lo, hi) in RANGES.items() if k in r and not
                   (isinstance(r[k], (int, float)) and not isinstance(r[k], bool) and lo <= r[k] <= hi)]
        if bad:
            name = r.get("run", f"number {i}") if isinstance(r, dict) else f"number {i}"
            raise SnapshotError(f"{path}: record {name} lacks a valid {', '.join(bad)}")
    return records


def _inside(name: str) -> bool:
    """A run folder name that stays inside the folder it is joined to (records name folders that tools train
    into and files that are written under the snapshot)."""
    return bool(RUN_NAME.fullmatch(name)) and not {"", ".", ".."} & set(name.split("/"))


def _optional_problems(r: dict) -> list[str]:
    """The optional fields of newer records: split sizes, the per-example predictions file with its digest, and a
    Figure 7 student's γ (its teacher's smoothness index at its temperature)."""
    bad = []
    s = r.get("sizes")
    if s is not None and not (isinstance(s, dict) and set(s) == {"train", "val", "test"} and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in s.values())):
        bad.append("sizes (train, val, test: counts)")
    p = r.get("predictions")
    if p is not None and not (isinstance(p, dict) and isinstance(p.get("file"), str)
                              and isinstance(p.get("sha256"), str) and PREDICTIONS.fullmatch(p["file"])
                              and ".." not in p["file"].split("/") and re.fullmatch(r"[0-9a-f]{64}", p["sha256"])):
        bad.append("predictions (predictions/<run>.npz and its sha256)")
    g = r.get("gamma")
    if g is not None and not (isinstance(g, (int, float)) and not isinstance(g, bool) and 0 <= g <= 2):
        bad.append("gamma (a smoothness index in [0, 2])")
    return bad


def distinct_trainings(records: list[dict]) -> int:
    """Records that share a key are one training recorded under several names (a Table 2 run that is also a
    Figure 7 teacher): count it once."""
    return len({r["key"] for r in records})


def read_provenance(path: Path) -> dict:
    prov = read_checked(path, dict)
    missing = [k for k, t in (("profile", str), ("commit", str), ("params", dict)) if not isinstance(prov.get(k), t)]
    if missing:
        raise SnapshotError(f"{path} lacks a valid {', '.join(missing)}")
    return prov
