"""Archives handled safely: no path escapes, no arbitrary unpickling.

- ``safe_extract_tar`` refuses any member whose path would land outside the
  target folder (absolute paths, ``..``, links pointing out, devices) before
  extracting anything, then extracts with the standard library's ``data``
  filter as a second guard.
- ``read_tar_members`` reads members into memory without extracting.
- ``restricted_unpickle`` loads the CIFAR python batches: only the globals a
  pickled numpy array needs are allowed, so a crafted pickle cannot run code.
  Callers verify the archive's checksum before calling it.
"""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path, PurePosixPath

from .fetch import DatasetError


class UnsafeArchiveError(DatasetError):
    pass


def _check_member(m: tarfile.TarInfo, dest: Path) -> None:
    name = PurePosixPath(m.name)
    target = (dest / m.name).resolve()
    if name.is_absolute() or ".." in name.parts or not target.is_relative_to(dest):
        raise UnsafeArchiveError(f"archive member {m.name!r} would be written outside {dest}; refusing the archive")
    if m.issym() or m.islnk():
        link = (target.parent / m.linkname).resolve() if m.issym() else (dest / m.linkname).resolve()
        if PurePosixPath(m.linkname).is_absolute() or not link.is_relative_to(dest):
            raise UnsafeArchiveError(f"archive member {m.name!r} links to {m.linkname!r} outside {dest}; "
                                     f"refusing the archive")
    if m.isdev() or m.isfifo():
        raise UnsafeArchiveError(f"archive member {m.name!r} is a device or pipe; refusing the archive")


def safe_extract_tar(path: Path, dest: Path) -> list[str]:
    """Extract a verified tar(.gz) into dest after checking every member; return the member names."""
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        for m in members:
            _check_member(m, dest)
        tar.extractall(dest, members=members, filter="data")
    return [m.name for m in members]


def read_tar_members(path: Path, names: list[str]) -> dict[str, bytes]:
    """The named regular-file members of a tar(.gz), read into memory (nothing is extracted)."""
    out = {}
    with tarfile.open(path) as tar:
        for n in names:
            try:
                m = tar.getmember(n)
            except KeyError:
                raise DatasetError(f"{path} has no member {n!r}: not the expected archive layout") from None
            if not m.isfile():
                raise UnsafeArchiveError(f"{path}: member {n!r} is not a regular file")
            out[n] = tar.extractfile(m).read()
    return out


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafeArchiveError(f"refusing to unpickle {module}.{name}: only numpy arrays are allowed")
        return super().find_class(module, name)


def restricted_unpickle(data: bytes):
    """Unpickle data holding only dicts, lists, strings, numbers and numpy arrays."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
