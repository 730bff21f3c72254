"""Checksum verification, the mirror path, and the errors a user sees."""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import pytest

from pipeline.data import registry
from pipeline.data.fetch import ChecksumError, MissingDatasetError, fetch_dataset, fetch_file
from pipeline.data.registry import RemoteFile


def _remote(tmp_path, payload: bytes, name="f.bin", **digests):
    mirror = tmp_path / "mirror"
    (mirror / "ds").mkdir(parents=True)
    (mirror / "ds" / name).write_bytes(payload)
    return mirror, RemoteFile(name, "https://example.invalid/" + name, f"ds/{name}", **digests)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the network must not be used when a mirror is given")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_good_file_from_mirror_is_verified_and_placed(tmp_path):
    data = b"hello label smoothing"
    mirror, f = _remote(tmp_path, data, md5=hashlib.md5(data).hexdigest(),
                        sha256=hashlib.sha256(data).hexdigest())
    out = fetch_file(f, tmp_path / "raw", mirror, "ds", tmp_path / "q")
    assert out.read_bytes() == data
    assert not list((tmp_path / "raw").glob("*.part"))


def test_corrupted_file_is_refused_named_and_moved_aside(tmp_path):
    good = b"the real bytes"
    mirror, f = _remote(tmp_path, b"the real bytez", sha256=hashlib.sha256(good).hexdigest())
    with pytest.raises(ChecksumError) as e:
        fetch_file(f, tmp_path / "raw", mirror, "ds", tmp_path / "q")
    msg = str(e.value)
    assert "f.bin" in msg and hashlib.sha256(good).hexdigest() in msg
    assert hashlib.sha256(b"the real bytez").hexdigest() in msg
    assert not (tmp_path / "raw" / "f.bin").exists()          # never placed where it would be used
    assert (tmp_path / "q" / "f.bin.part.bad").exists()       # kept aside for inspection, outside the output
    assert not list((tmp_path / "raw").iterdir())


def test_md5_is_checked_when_it_is_the_only_checksum(tmp_path):
    mirror, f = _remote(tmp_path, b"abc", md5=hashlib.md5(b"abd").hexdigest())
    with pytest.raises(ChecksumError, match="md5"):
        fetch_file(f, tmp_path / "raw", mirror, "ds", tmp_path / "q")


def test_damaged_local_copy_is_replaced(tmp_path):
    data = b"payload"
    mirror, f = _remote(tmp_path, data, sha256=hashlib.sha256(data).hexdigest())
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "f.bin").write_bytes(b"truncat")
    fetch_file(f, tmp_path / "raw", mirror, "ds", tmp_path / "q")
    assert (tmp_path / "raw" / "f.bin").read_bytes() == data
    assert (tmp_path / "q" / "f.bin.bad").read_bytes() == b"truncat"
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["f.bin"]  # DVC hashes the output folder


def test_missing_mirror_file_says_what_to_put_where(tmp_path):
    spec = registry.get("cifar100")
    with pytest.raises(MissingDatasetError) as e:
        fetch_dataset(spec, tmp_path / "raw", tmp_path / "empty-mirror")
    msg = str(e.value)
    assert str(tmp_path / "empty-mirror" / "cifar100" / "cifar-100-python.tar.gz") in msg
    assert "cs.toronto.edu" in msg and "eb9058c3a382ffc7106e4002c42a8d85" in msg


def test_mirror_only_source_without_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(MissingDatasetError, match="DATA_MIRROR"):
        fetch_dataset(registry.get("cifar10_jpeg"), tmp_path / "raw", None)


def test_download_failure_suggests_the_mirror(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("no route to host")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(MissingDatasetError, match="DATA_MIRROR"):
        fetch_dataset(registry.get("mnist"), tmp_path / "raw", None)
    assert not list((tmp_path / "raw").glob("*"))


def test_registry_checksums_match_the_mirror(mirror):
    """Every registry file the mirror holds verifies (md5 and sha256 where pinned)."""
    from pipeline.io import file_digests
    checked = 0
    for spec in registry.REGISTRY.values():
        for f in spec.files:
            p = mirror / f.mirror_path
            if p.exists():
                got = file_digests(p)
                assert f.md5 is None or got["md5"] == f.md5, f.name
                assert f.sha256 is None or got["sha256"] == f.sha256, f.name
                checked += 1
    assert checked >= 15  # MNIST, Fashion-MNIST, Multi30k, CIFAR-10 JPEG


def test_every_registry_file_has_a_checksum_and_every_paper_dataset_is_listed():
    for spec in registry.REGISTRY.values():
        for f in spec.files:
            assert f.md5 or f.sha256, f.name
    assert {"mnist", "fashion_mnist", "emnist", "cifar10", "cifar100", "cub200",
            "tiny_imagenet", "multi30k", "cifar10_jpeg"} <= set(registry.REGISTRY)


def test_fetch_mnist_from_the_mirror(tmp_path, mirror):
    _, paths = fetch_dataset(registry.get("mnist"), tmp_path / "raw", mirror)
    assert len(paths) == 4
    with gzip.open(paths[1]) as g:
        assert int.from_bytes(g.read(8)[4:], "big") == 60000  # idx label count


def test_a_stage_reading_an_altered_file_refuses_it_and_names_it(tmp_path, monkeypatch, mirror):
    """preprocess verifies the raw files where it reads them, so a run outside DVC never trains on an
    altered file (here MNIST's training labels with one byte changed)."""
    import shutil

    from pipeline.stages.preprocess import prepare
    raw = tmp_path / "data" / "raw" / "mnist"
    raw.mkdir(parents=True)
    for f in registry.get("mnist").files:
        shutil.copyfile(mirror / f.mirror_path, raw / f.name)
    labels = raw / "train-labels-idx1-ubyte.gz"
    with gzip.open(labels) as g:
        data = bytearray(g.read())
    data[100] = (data[100] + 1) % 10
    with gzip.open(labels, "wb") as g:
        g.write(bytes(data))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz"):
        prepare("mnist", 5000, 0)
    shutil.copyfile(mirror / registry.get("mnist").files[1].mirror_path, labels)
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(MissingDatasetError, match="t10k-images-idx3-ubyte.gz.*dvc repro download"):
        prepare("mnist", 5000, 0)
    assert not (tmp_path / "data" / "prepared").exists()


def test_preprocess_run_by_hand_keeps_the_prepared_data_until_every_input_is_verified(tmp_path, mirror):
    """Outside DVC nothing deletes data/prepared/ first: a bad raw file stops the stage in one line and
    the prepared data of the last good run is still there; a good run then drops datasets no longer asked for."""
    import shutil
    import subprocess
    import sys

    import yaml
    root = Path(__file__).resolve().parents[1]
    raw = tmp_path / "data" / "raw" / "mnist"
    raw.mkdir(parents=True)
    for f in registry.get("mnist").files:
        shutil.copyfile(mirror / f.mirror_path, raw / f.name)
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profiles"][p["profile"]]["datasets"] = ["mnist", "multi30k"]  # the checks want Multi30k
    p["profiles"][p["profile"]]["classifiers"] = {a: ([] if a != "fcn" else ["mnist"]) for a in
                                                  p["profiles"][p["profile"]]["classifiers"]}
    p["profiles"][p["profile"]]["mi_dataset"] = p["profiles"][p["profile"]]["figure8_dataset"] = None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    prep = tmp_path / "data" / "prepared"
    prep.mkdir()
    for name in ("mnist.pt", "mnist.json", "cifar10.pt"):
        (prep / name).write_text("the last good run's")
    labels = raw / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-10])
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, "-m", "pipeline.stages.preprocess"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "train-labels-idx1-ubyte.gz" in r.stderr
    assert sorted(f.name for f in prep.iterdir()) == ["cifar10.pt", "mnist.json", "mnist.pt"]   # nothing lost
    shutil.copyfile(mirror / registry.get("mnist").files[1].mirror_path, labels)
    r = subprocess.run([sys.executable, "-m", "pipeline.stages.preprocess"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(f.name for f in prep.iterdir()) == ["mnist.json", "mnist.pt"]
    assert (prep / "mnist.pt").read_bytes() != b"the last good run's"
