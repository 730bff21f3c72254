from __future__ import annotations

import os
from pathlib import Path

import pytest

# Idle OpenMP threads sleep instead of spinning. With two test workers (Makefile: `make test`), each running torch
# or a stage on 2 threads, spinning threads take the cores from the working ones: the suite ran at 100 % system
# time. The wait policy changes no result, only how idle threads wait; stages started by the tests inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the wait policy, which OpenMP reads when torch loads)

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


@pytest.fixture(autouse=True)
def _sigterm_handler_restored():
    """A stage run in-process (pipeline.stage.run) makes SIGTERM interrupt it; the test process gets its own back."""
    import signal
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.fixture(scope="session")
def data_source() -> Path | None:
    """Where the pipeline tests get data: the mirror if there is one, else the internet."""
    return _mirror()


@pytest.fixture
def toy(tmp_path, monkeypatch, root):
    """A small prepared dataset in a temporary project (the working directory: data paths are relative)."""
    from pipeline.io import save_tensors, write_json
    monkeypatch.chdir(tmp_path)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (3 * 160,), generator=g)
    # Class-dependent blobs so that training moves the accuracy, plus uint8 noise.
    x = (torch.rand(3 * 160, 8, 8, generator=g) * 120 + (y[:, None, None] * 30)).to(torch.uint8)
    split = {f"{s}_{k}": v[i * 160:(i + 1) * 160] for i, s in enumerate(("train", "val", "test"))
             for k, v in (("x", x), ("y", y))}
    save_tensors(tmp_path / "data/prepared/toy.pt", split)
    write_json(tmp_path / "data/prepared/toy.json", {"num_classes": 4, "image_shape": [8, 8]})
    return tmp_path


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running single-node SLURM cluster (tests/slurm_cluster.py): SLURM_CONF is set while it runs."""
    import shutil
    import subprocess

    import slurm_cluster
    if os.environ.get("SLURM_CONF") and shutil.which("sbatch"):
        yield Path(os.environ["SLURM_CONF"])  # a cluster someone else runs
        return
    folder = tmp_path_factory.mktemp("slurm")
    try:
        conf = slurm_cluster.start(folder)
    except slurm_cluster.Unavailable as e:
        pytest.skip(f"SLURM tests: {e}")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        yield conf
    finally:
        subprocess.run(["scancel", "--user", "root"], capture_output=True)
        slurm_cluster.stop(folder)
        os.environ.pop("SLURM_CONF", None)



# `make test` runs two workers, each taking whole files (pytest -n 2 --dist loadfile --no-loadscope-reorder), so a
# module-scoped fixture (a DVC repository, the GPU-session rehearsal) and the SLURM cluster are each set up once.
# The longest files go first, so both workers finish together: the end-to-end DVC file alone is about half the suite.
LONGEST_FIRST = ["test_pipeline_e2e", "test_backend", "test_gpu_session", "test_resume_process", "test_zoo"]


def pytest_collection_modifyitems(config, items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rpartition(".")[2], len(rank)))  # stable
