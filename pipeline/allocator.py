"""glibc malloc settings for training loops that allocate the same large tensors every step.

By default glibc serves every block above a (dynamic) threshold with a fresh
mmap and returns it on free, so each step's activations and gradients page-fault
in anew: on these CPUs a small Transformer spent as much time in the kernel as
in user space. Keeping freed memory in the heap (mmap threshold 32 MiB, the
maximum; trim threshold 1 GiB) made the tiny Transformer 31 % and the FCN 12 %
faster (measured with ``MALLOC_*`` environment variables, which have the same
effect). Numbers are unchanged: only where memory comes from differs.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Apply the settings through mallopt (glibc only; elsewhere, or when MALLOC_* is set, do nothing)."""
    if any(k.startswith("MALLOC_") for k in os.environ):
        return False  # the user chose
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
        return bool(ok and libc.mallopt(M_TOP_PAD, 256 << 20))
    except (OSError, AttributeError):
        return False
