"""The machine a snapshot's runs came from, as provenance records it."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def machine(device: str = "auto") -> dict:
    """CPU model and cores, the GPU's name and CUDA version where ``device`` is CUDA (``auto``: where CUDA is
    visible, as ``execution.device: auto`` resolves it), torch and Python."""
    import torch
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    gpu = torch.cuda.get_device_name(0) if device in ("cuda", "auto") and torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "cuda": torch.version.cuda if gpu else None,
            "torch": torch.__version__, "python": platform.python_version()}
