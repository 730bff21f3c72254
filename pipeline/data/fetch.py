"""Obtain a dataset's files, from the official source or a mirror folder, verified.

``DATA_MIRROR`` (an environment variable) names a folder laid out as
``registry.RemoteFile.mirror_path`` says; when it is set, files are copied
from there and the network is never touched (air-gapped clusters). Either way
every file is written to a temporary name, its checksums are checked, and only
then is it renamed into place. A file that fails is moved aside with a
``.bad`` suffix into a quarantine folder outside the stage's output
(``data/quarantine/<dataset>/``), never used, and the error names the file,
both hashes and the fix. A file already in place is re-verified and kept if it
matches. ``verify_dataset`` checks the files again where a stage reads them, so a
stage run outside DVC never reads an altered file either.
"""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..io import file_digests
from ..layout import QUARANTINE
from . import registry
from .registry import DatasetSpec, RemoteFile


class DatasetError(RuntimeError):
    """A dataset file cannot be obtained or does not verify."""


class ChecksumError(DatasetError):
    pass


class MissingDatasetError(DatasetError):
    pass


def mirror_root() -> Path | None:
    m = os.environ.get("DATA_MIRROR")
    return Path(m).expanduser() if m else None


def _mismatch(f: RemoteFile, path: Path) -> tuple[str, str, str] | None:
    """(algorithm, expected, actual) for the first checksum that fails, else None."""
    got = file_digests(path)
    for algo in ("sha256", "md5"):
        want = getattr(f, algo)
        if want and got[algo] != want:
            return algo, want, got[algo]
    return None


def _move_aside(path: Path, quarantine: Path) -> Path:
    """Move a file that failed verification out of the output folder (DVC would otherwise hash it)."""
    quarantine.mkdir(parents=True, exist_ok=True)
    bad = quarantine / (path.name + ".bad")
    shutil.move(path, bad)
    return bad


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as out:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.removesuffix(".part"),
                      leave=False) as bar:
                while block := r.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as e:
        dest.unlink(missing_ok=True)
        raise MissingDatasetError(
            f"could not download {url}: {e}. Without internet, set DATA_MIRROR to a folder "
            f"that holds this file as <DATA_MIRROR>/{dest.name.removesuffix('.part')} "
            f"(see the registry's mirror_path).") from e


def fetch_file(f: RemoteFile, dest_dir: Path, mirror: Path | None, dataset: str, quarantine: Path) -> Path:
    dest = Path(dest_dir) / f.name
    if dest.exists():
        if _mismatch(f, dest) is None:
            return dest
        _move_aside(dest, quarantine)  # a stale or damaged copy: keep it for inspection, fetch again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if mirror is not None:
        src = mirror / f.mirror_path
        if not src.is_file():
            raise MissingDatasetError(
                f"dataset {dataset!r} needs {f.name}, which is not in the mirror: put it at {src}"
                + (f" (official source: {f.url}" if f.url else " (no official source: mirror-only")
                + (f", md5 {f.md5})" if f.md5 else f", sha256 {f.sha256})"))
        shutil.copyfile(src, part)
        origin = str(src)
    elif f.url is None:
        raise MissingDatasetError(
            f"dataset {dataset!r} ({f.name}) has no official source: it is a mirror-only stand-in. "
            f"Set DATA_MIRROR to a folder holding {f.mirror_path}.")
    else:
        _download(f.url, part)
        origin = f.url
    bad = _mismatch(f, part)
    if bad is not None:
        algo, want, got = bad
        kept = _move_aside(part, quarantine)
        raise ChecksumError(
            f"checksum mismatch for {f.name} of dataset {dataset!r} (from {origin}): "
            f"expected {algo} {want}, got {got}. The file was moved aside to {kept} and not used. "
            f"Replace the source file with an intact copy"
            + (f" from {f.url}" if f.url else "") + ", then rerun.")
    os.replace(part, dest)
    return dest


def verify(f: RemoteFile, path: Path, dataset: str) -> None:
    """Raise ChecksumError unless the file at path matches the registry's checksums."""
    bad = _mismatch(f, path)
    if bad is not None:
        algo, want, got = bad
        raise ChecksumError(f"checksum mismatch for {path} of dataset {dataset!r}: expected {algo} {want}, "
                            f"got {got}. Delete it and rerun `dvc repro download`.")


def fetch_dataset(spec: DatasetSpec, dest_dir: Path, mirror: Path | None = None,
                  quarantine: Path | None = None) -> tuple[DatasetSpec, list[Path]]:
    """Fetch and verify every file of a dataset into dest_dir; return the spec whose files were fetched
    (the dataset's own, or offline its stand-in's: see registry.DatasetSpec.stand_in) and their paths.
    Files that fail go to ``quarantine`` (default ``data/quarantine/<dataset>``)."""
    q = QUARANTINE / spec.name if quarantine is None else quarantine
    if spec.stand_in and mirror is not None and not all((mirror / f.mirror_path).is_file() for f in spec.files):
        spec = registry.get(spec.stand_in)  # offline without the official files: the stand-in, labelled
    for f in spec.files:
        fetch_file(f, dest_dir, mirror, spec.name, q)
    for stale in (registry.get(n) for n in (spec.stand_in, _stood_in_for(spec.name)) if n):
        for f in stale.files:  # the other variant's files: one set in the folder, so its source is plain
            (Path(dest_dir) / f.name).unlink(missing_ok=True)
    return spec, [Path(dest_dir) / f.name for f in spec.files]


def _stood_in_for(name: str) -> str | None:
    return next((d.name for d in registry.REGISTRY.values() if d.stand_in == name), None)


def verify_dataset(spec: DatasetSpec, folder: Path) -> DatasetSpec:
    """Before a stage reads a dataset: every file present and matching the registry's checksums.
    Returns the spec of the files there (the dataset's own, or its stand-in's)."""
    spec = registry.source(spec.name, Path(folder))
    for f in spec.files:
        path = Path(folder) / f.name
        if not path.is_file():
            raise MissingDatasetError(f"dataset {spec.name!r} needs {path}, which is missing: run "
                                      f"`dvc repro download` (offline: with DATA_MIRROR set)")
        verify(f, path, spec.name)
    return spec
