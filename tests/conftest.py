from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.compat import import_torchvision

# torchmetrics (an independent ECE) imports torchvision; make that import work
# beside CPU torch before any test module is collected.
import_torchvision()

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def _mirror() -> Path | None:
    m = os.environ.get("DATA_MIRROR")
    if m:
        return Path(m).resolve()
    default = ROOT.parent / "shared" / "datasets"
    return default.resolve() if default.is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The offline dataset mirror (DATA_MIRROR, else ../shared/datasets)."""
    m = _mirror()
    if m is None or not (m / "MNIST").is_dir():
        pytest.skip("no dataset mirror; set DATA_MIRROR to test the mirror itself")
    return m


@pytest.fixture(scope="session")
def data_source() -> Path | None:
    """Where the pipeline tests get data: the mirror if there is one, else the internet."""
    return _mirror()
