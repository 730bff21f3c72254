"""The checks behind the run folder's lifecycle (pipeline/training/run_folder.py): a finished run is trusted only
if its files are the ones it wrote; one process trains a folder at a time.

``run_folder.finish`` records the sha256 of every file of a run folder in its
``metrics.json`` (written last). ``damaged`` recomputes them before a run is
reused: a truncated ``logits.pt`` or a missing snapshot makes the run count as
unfinished, so it is retrained rather than passed on to calibration or DVC.

``run_locks`` takes an exclusive lock per run folder for as long as a stage
trains it (``fcntl.flock`` on ``<run>.run-lock`` beside the folder; DVC ignores
these files, see .dvcignore). A second process asking for a folder that is
being trained stops at once with a message naming the folder and the other
process, instead of writing the same files concurrently.

None of this changes what a run computes, so this file is in no run key (run_key.BOOKKEEPING).
"""
from __future__ import annotations

import fcntl
import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

from ..io import file_digests, write_text

# Files of a run folder that are not results: the completion mark itself and the resumable state.
NOT_RECORDED = {"metrics.json", "state.pt"}


class RunBusyError(RuntimeError):
    """Another process is training this run folder."""


class DamagedRunError(RuntimeError):
    """A finished run's file that a stage is about to read is not the one the run wrote."""


def output_digests(run_dir: Path) -> dict[str, str]:
    """{relative path: sha256} of every result file in ``run_dir`` (snapshots included)."""
    run_dir = Path(run_dir)
    return {p.relative_to(run_dir).as_posix(): file_digests(p)["sha256"] for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name not in NOT_RECORDED and not p.name.startswith(".")}


def damaged(run_dir: Path, recorded: dict | None) -> str | None:
    """Why the finished run in ``run_dir`` cannot be trusted, or None if every recorded file is intact."""
    if not recorded:
        return "its metrics.json records no file digests"
    run_dir = Path(run_dir)
    for name, digest in sorted(recorded.items()):
        f = run_dir / name
        if not f.is_file():
            return f"{f} is missing"
        if file_digests(f)["sha256"] != digest:
            return f"{f} does not match the sha256 recorded when it was written"
    return None


@contextmanager
def run_locks(run_dirs: list[Path]):
    """Hold an exclusive lock on each run folder (sorted, so two stages cannot deadlock)."""
    held = []
    try:
        for d in sorted({Path(d).resolve() for d in run_dirs}):
            d.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(d.parent / f"{d.name}.run-lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunBusyError(f"run folder {d} is being trained by another process (pid {other}); "
                                   "wait for it to finish or stop it, then run again") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            held.append(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)  # closing releases the lock


# metrics.json holds the digests of the other files, so its own digest is kept beside it, in this dot-file
# (outside output_digests, like every dot-file), written when a stage has the finished run in hand.
SEAL = ".metrics.sha256"
# Metrics with a range, checked before a finished classifier run is reused.
RANGES = {"test_acc": (0.0, 100.0), "val_acc": (0.0, 100.0), "test_nll": (0.0, float("inf")),
          "val_nll": (0.0, float("inf"))}


def seal(run_dir: Path) -> None:
    """Record the sha256 of the finished run's metrics.json (after a stage trained or reused it)."""
    done, mark = Path(run_dir) / "metrics.json", Path(run_dir) / SEAL
    if done.exists():
        digest = file_digests(done)["sha256"]
        if not mark.exists() or mark.read_text().strip() != digest:
            write_text(mark, digest + "\n")


def metrics_problem(done: Path) -> str | None:
    """Why the finished run's ``metrics.json`` cannot be trusted, or None (read-only)."""
    try:
        m = json.loads(done.read_text())
    except (OSError, ValueError):
        return "not a JSON object"
    if not isinstance(m, dict):
        return "not a JSON object"
    mark = done.with_name(SEAL)
    if mark.exists() and mark.read_text().strip() != file_digests(done)["sha256"]:
        return f"its sha256 differs from the one in {SEAL}, recorded when the run finished"
    bad = [k for k, (lo, hi) in RANGES.items() if k in m and not (
        isinstance(m[k], (int, float)) and not isinstance(m[k], bool) and lo <= m[k] <= hi)]
    return f"{', '.join(bad)} out of range" if bad else None


def verified(run_dir: Path, name: str) -> Path:
    """``run_dir / name`` once checked against the sha256 its run recorded (and the run's metrics against
    their seal), for the stages that read finished runs: swapped or altered logits, weights or snapshots
    stop the stage in one line, also when it is run by hand outside DVC."""
    run_dir = Path(run_dir)
    done = run_dir / "metrics.json"
    problem = metrics_problem(done) if done.exists() else "no metrics.json: the run has not finished"
    if problem is None:
        recorded = json.loads(done.read_text()).get("files") or {}
        if name not in recorded:
            problem = f"its metrics.json records no sha256 of {name}"
        elif not (run_dir / name).is_file() or file_digests(run_dir / name)["sha256"] != recorded[name]:
            problem = f"{name} is missing or not the file the run wrote (its sha256 differs from the recorded one)"
    if problem is not None:
        raise DamagedRunError(f"{run_dir}: {problem}; run `dvc repro` (it retrains a damaged run)")
    return run_dir / name


def drop_unreadable_metrics(run_dir: Path, label: str) -> None:
    """Remove a ``metrics.json`` that cannot be trusted, with one line: cut short by a crash on another
    filesystem (not a JSON object), changed since the run finished (its sealed sha256), or a metric out of its
    range. The run is then unfinished, so it resumes from its state or trains again, never stops the stage."""
    done = Path(run_dir) / "metrics.json"
    if not done.exists():
        return
    problem = metrics_problem(done)
    if problem is not None:
        print(f"{label}: {done} is damaged ({problem}); the run counts as unfinished")
        done.unlink()
        Path(run_dir, SEAL).unlink(missing_ok=True)


def drop_unreadable_state(run_dir: Path, label: str) -> None:
    """Set aside a resumable ``state.pt`` whose archive is damaged (cut short by a crash mid-write on a
    filesystem without atomic renames, or a flipped byte) beside the run folder, as
    ``<run>.state.pt.damaged`` (ignored by DVC, like the locks), with one line: the run then trains from its
    start instead of stopping every rerun with a traceback. The check reads the zip archive's own CRCs;
    nothing is unpickled."""
    state = Path(run_dir) / "state.pt"
    if not state.exists():
        return
    try:
        with zipfile.ZipFile(state) as z:
            bad = z.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        bad = str(e) or type(e).__name__
    if bad is not None:
        aside = state.parent.with_name(f"{state.parent.name}.state.pt.damaged")
        os.replace(state, aside)
        print(f"{label}: {state} is damaged ({bad}); set aside as {aside}, training from the start")


def drop_damaged_state(run_dir: Path, label: str) -> None:
    """A run folder's read-back files checked before use: ``metrics.json`` and ``state.pt``."""
    drop_unreadable_metrics(run_dir, label)
    drop_unreadable_state(run_dir, label)
