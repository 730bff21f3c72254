"""One run folder's lifecycle, for classifiers, stacked members and Transformers alike.

A run folder holds one run of one key (pipeline/training/run_key.py):
- ``status`` says, without changing anything, whether it holds the intact finished run of a key, a resumable
  state, nothing, or something else (``backend.finished`` asks it for any kind of run);
- ``prepare`` makes it ready for a key: damaged files set aside, the intact finished run returned for reuse (or
  one with the same key copied from another folder), another configuration's leftovers cleared, a resumable
  state of this key kept (its key is checked again when ``loop.fit`` loads it);
- ``finish`` writes the run's ``metrics.json`` last, with the sha256 of every other file, and drops the state;
- ``locked`` holds one process per folder, and ``seal`` records the finished ``metrics.json``'s own digest;

A trained model is rebuilt from its folder by pipeline/training/restore.py (numerics: a teacher's logits
come from it, so it is hashed into students' keys).

The checks behind it (digests, the seal, damaged states, locks) are in pipeline/training/integrity.py.
Nothing here changes what a run computes: no run key hashes this file (run_key.BOOKKEEPING).
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..io import read_json, write_json
from .integrity import damaged, drop_damaged_state, metrics_problem, output_digests, run_locks, seal

FINISHED, RESUMABLE, EMPTY, OTHER = "finished", "resumable", "empty", "other"


def status(run_dir: Path, key: str) -> str:
    """What ``run_dir`` holds for ``key`` (read-only): FINISHED (intact, this key), RESUMABLE (a state file;
    its key is checked on load), EMPTY (no folder or no files) or OTHER (another key, or damaged files)."""
    run_dir = Path(run_dir)
    done = run_dir / "metrics.json"
    if done.exists():
        if metrics_problem(done) is None:
            m = read_json(done)
            if m.get("key") == key and damaged(run_dir, m.get("files")) is None:
                return FINISHED
    if (run_dir / "state.pt").exists():
        return RESUMABLE
    return OTHER if run_dir.exists() and any(run_dir.iterdir()) else EMPTY


def prepare(run_dir: Path, key: str, label: str, roots: list[Path] = ()) -> dict | None:
    """The metrics of the intact finished run with ``key`` in ``run_dir`` (copied there first from another
    folder under ``roots`` that holds it), else None with the folder ready to train (see the module's text)."""
    run_dir = Path(run_dir)
    drop_damaged_state(run_dir, label)
    done = run_dir / "metrics.json"
    if done.exists() and (m := read_json(done)).get("key") == key:
        problem = damaged(run_dir, m.get("files"))
        if problem is None:
            return m
        print(f"{label}: not reused, {problem}; training it again")
        shutil.rmtree(run_dir)
    if roots and (src := adopt_identical_run(run_dir, key, roots)) is not None:
        print(f"{label}: the same run (same key) is in {src}; copied")
        return read_json(done)
    if run_dir.exists() and not (run_dir / "state.pt").exists():
        shutil.rmtree(run_dir)  # leftovers of another configuration
    run_dir.mkdir(parents=True, exist_ok=True)
    return None


def finish(run_dir: Path, metrics: dict) -> dict:
    """Write ``metrics.json`` with every other file's sha256, last and atomically: the run is then complete."""
    run_dir = Path(run_dir)
    metrics = metrics | {"files": output_digests(run_dir)}  # checked before the run is ever reused
    write_json(run_dir / "metrics.json", metrics)
    (run_dir / "state.pt").unlink(missing_ok=True)
    return metrics


@contextmanager
def locked(run_dirs: list[Path]):
    """Hold every folder's lock while they train, and seal each finished ``metrics.json`` when done."""
    with run_locks(run_dirs):
        yield
        for d in run_dirs:
            seal(d)


def adopt_identical_run(run_dir: Path, key: str, roots: list[Path]) -> Path | None:
    """Copy an intact finished run with this ``key`` from another folder under ``roots`` into ``run_dir``.

    The key hashes configuration, execution, data and numerics code, so a run with the same key
    elsewhere (Figure 7's teacher at α = 0.15 is Table 2's MNIST run at α = 0.15) holds the bytes this
    run would train. The source's metrics must pass their checks (seal, ranges) and its files their
    digests; the copy is checked again against the same digests before it is moved into place in one
    rename. Returns the folder copied from, or None.
    """
    run_dir = Path(run_dir)
    for root in roots:
        for done in sorted(Path(root).rglob("metrics.json")):
            src = done.parent
            if src.resolve() == run_dir.resolve():
                continue
            try:
                m = json.loads(done.read_text())
            except (OSError, ValueError):
                continue
            if (not isinstance(m, dict) or m.get("key") != key or metrics_problem(done) is not None
                    or damaged(src, m.get("files")) is not None):
                continue
            tmp = run_dir.with_name(f".{run_dir.name}.adopt")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("state.pt", ".*"))
            if json.loads((tmp / "metrics.json").read_text()) != m or damaged(tmp, m.get("files")) is not None:
                shutil.rmtree(tmp, ignore_errors=True)  # the source changed while it was copied
                continue
            shutil.rmtree(run_dir, ignore_errors=True)
            os.replace(tmp, run_dir)
            return src
    return None
