"""CIFAR-10 comes from the official archive wherever it can be had (online, or in DATA_MIRROR), and from
the JPEG stand-in only offline without it; what was read is named in the prepared data and the tables.

The online path is tested without the internet: a small archive in the official format is served by a
loopback HTTP server, and the registry's URL and md5 are substituted for it."""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from pipeline.data import naming, registry
from pipeline.data.fetch import fetch_dataset
from tests.test_archives import _cifar10_archive


@pytest.fixture
def official(tmp_path, monkeypatch):
    """The synthetic official archive, served on 127.0.0.1, and the registry's cifar10 pointing at it."""
    served = tmp_path / "served"
    served.mkdir()
    arc, _ = _cifar10_archive(served)  # 5 training batches and a test batch of 4 images each
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = registry.get("cifar10")
    f = dataclasses.replace(spec.files[0], url=f"http://127.0.0.1:{server.server_address[1]}/{arc.name}",
                            md5=hashlib.md5(arc.read_bytes()).hexdigest())
    monkeypatch.setitem(registry.REGISTRY, "cifar10", dataclasses.replace(spec, files=(f,), sizes=(20, 4)))
    monkeypatch.chdir(tmp_path)  # data/raw, data/prepared
    yield arc
    server.shutdown()
    server.server_close()


def test_online_the_official_archive_is_downloaded_read_and_named(official):
    from pipeline.stages import preprocess
    spec = registry.get("cifar10")
    used, files = fetch_dataset(spec, Path("data/raw/cifar10"), mirror=None)
    assert used is spec and [p.name for p in files] == ["cifar-10-python.tar.gz"]
    assert files[0].read_bytes() == official.read_bytes()
    meta = preprocess.prepare("cifar10", 2, 0, "official_test")
    assert meta["source"] == "cifar10" and meta["title"] == "CIFAR-10"
    assert meta["sizes"] == {"train": 18, "val": 2, "test": 4, "official_train": 20}
    assert naming.title("cifar10") == "CIFAR-10"


def test_offline_the_official_archive_in_the_mirror_wins_over_the_stand_in(official, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "cifar10").mkdir(parents=True)
    shutil.copy2(official, mirror / "cifar10" / official.name)
    raw = Path("data/raw/cifar10")
    raw.mkdir(parents=True)
    (raw / "cifar10-jpeg.tar.gz").write_bytes(b"an earlier offline run's stand-in")
    used, files = fetch_dataset(registry.get("cifar10"), raw, mirror)
    assert used.name == "cifar10" and sorted(p.name for p in raw.iterdir()) == ["cifar-10-python.tar.gz"]
    assert registry.source("cifar10", raw).name == "cifar10"


def test_offline_without_the_official_archive_the_stand_in_is_read_and_named(mirror, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = Path("data/raw/cifar10")
    used, files = fetch_dataset(registry.get("cifar10"), raw, mirror)  # the shared mirror: JPEGs only
    assert used.name == "cifar10_jpeg" and [p.name for p in raw.iterdir()] == ["cifar10-jpeg.tar.gz"]
    assert registry.source("cifar10", raw).title == "CIFAR-10 (lossy JPEG stand-in)"
    # the folder no longer holds the official files: preprocess reads and names the stand-in
    # (tests/test_pipeline_e2e.py runs the stages on it and checks the tables' rows)


def test_a_dataset_without_a_stand_in_is_never_replaced(tmp_path):
    from pipeline.data.fetch import MissingDatasetError
    with pytest.raises(MissingDatasetError, match="cifar-100-python.tar.gz"):
        fetch_dataset(registry.get("cifar100"), tmp_path / "raw", tmp_path / "empty-mirror")
