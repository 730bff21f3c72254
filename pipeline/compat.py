"""Import torchvision cleanly beside a CPU-only torch.

The torchvision wheel on PyPI is built against CUDA torch. Beside the CPU
build of the same torch version its C++ extension (``torchvision._C``) cannot
load, and torchvision 0.28's ``__init__`` then fails while registering a fake
kernel for ``torchvision::nms``, an operator that extension would have
defined (``nms`` and ``qnms``). The Python parts this project uses (model definitions, dataset file
readers) do not need the extension. So: if the extension loads, do nothing;
otherwise define the operator's schema (without a kernel) so the import
succeeds, and remember that the detection ops are unavailable. Calling
``torchvision.ops.nms`` then raises a clear "no kernel" error instead of the
whole package failing to import.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import torch

_SHIM_LIB = None
EXTENSION_OK: bool | None = None


def _extension_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("torchvision is not installed; run `make venv`")
    for so in Path(spec.submodule_search_locations[0]).glob("_C*.so"):
        try:
            torch.ops.load_library(str(so))
            return True
        except (OSError, RuntimeError):
            return False
    return False


def import_torchvision():
    """Return the torchvision module, working around a CUDA-only extension."""
    global _SHIM_LIB, EXTENSION_OK
    if EXTENSION_OK is None:
        EXTENSION_OK = _extension_loads()
        if not EXTENSION_OK and not hasattr(torch.ops.torchvision, "nms"):
            _SHIM_LIB = torch.library.Library("torchvision", "DEF")
            for op in ("nms", "qnms"):  # the unguarded fake registrations in 0.28
                _SHIM_LIB.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Failed to load image Python extension.*")
        import torchvision
    return torchvision
