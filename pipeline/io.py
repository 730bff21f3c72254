"""Atomic file writes and safe loading.

Every file a stage writes goes to a temporary name in the same folder and is
renamed into place, so a kill mid-write never leaves a half file that a later
stage (or a resumed run) would trust. Tensors are loaded with
``weights_only=True``: nothing here ever unpickles arbitrary objects.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def _umask() -> int:
    """The process umask at this write. /proc gives it without setting it; elsewhere reading it means
    setting it and back, which is why it is not done at import."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.filename is None:  # a failed write names no file (ENOSPC): name the one being written
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prune(folder: Path, keep: set[str]) -> None:
    """Delete the entries of ``folder`` not named in ``keep``: outputs of runs or
    datasets the current params no longer ask for, so a persisted output folder
    never carries stale results."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.name not in keep:
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda p: p.write_text(text))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_tensors(path: Path, obj: Any) -> None:
    """torch.save through a temporary file and rename.

    Serialised in memory first: torch.save names the archive after the file it
    writes, and the temporary name is random, so saving to it directly would
    give different bytes (and checksums) for identical tensors every time.
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic(path, lambda p: p.write_bytes(buf.getbuffer()))


def load_tensors(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """torch.load restricted to tensors and plain containers."""
    return torch.load(Path(path), map_location=map_location, weights_only=True)


_REQUIRED = object()


def read_json(path: Path, default: Any = _REQUIRED) -> Any:
    """The JSON in ``path``; ``default`` where the file does not exist, if one is given."""
    if default is not _REQUIRED and not Path(path).exists():
        return default
    return json.loads(Path(path).read_text())


def file_digests(path: Path, chunk: int = 1 << 20) -> dict[str, str]:
    """md5 and sha256 of a file, computed in one pass."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def curves_csv(rows: list[tuple[str, list[dict]]]) -> str:
    """Training curves [(label, [{step, loss}])] as one CSV for `dvc plots` (x step, y loss, a line per run)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "loss", "run"])
    for label, curve in rows:
        for pt in curve:
            w.writerow([pt["step"], f"{pt['loss']:.6g}", label])
    return buf.getvalue()
