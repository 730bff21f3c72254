"""Archive safety and the CIFAR reader, on small synthetic files in the official formats."""
from __future__ import annotations

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from pipeline.data import readers, registry
from pipeline.data.archives import UnsafeArchiveError, restricted_unpickle, safe_extract_tar
from pipeline.data.fetch import ChecksumError
from pipeline.data.registry import DatasetSpec, RemoteFile


def _tar(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_safe_extract_places_ordinary_members(tmp_path):
    arc = _tar(tmp_path / "ok.tar.gz", {"train/cat/0001.jpg": b"x", "test/dog/0002.jpg": b"y"})
    names = safe_extract_tar(arc, tmp_path / "out")
    assert sorted(names) == ["test/dog/0002.jpg", "train/cat/0001.jpg"]
    assert (tmp_path / "out/train/cat/0001.jpg").read_bytes() == b"x"


@pytest.mark.parametrize("members,links", [
    ({"../escape.txt": b"evil"}, None),
    ({"a/../../escape.txt": b"evil"}, None),
    ({"/tmp/abs_escape.txt": b"evil"}, None),
    ({}, {"link": "../../etc/passwd"}),
    ({}, {"abs_link": "/etc/passwd"}),
])
def test_safe_extract_refuses_paths_that_escape(tmp_path, members, links):
    arc = _tar(tmp_path / "bad.tar.gz", {"fine.txt": b"ok", **members}, links)
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract_tar(arc, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / "fine.txt").exists()   # nothing extracted from a refused archive


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def test_restricted_unpickle_loads_arrays_and_refuses_code():
    batch = {b"data": np.arange(12, dtype=np.uint8).reshape(2, 6), b"labels": [3, 4]}
    out = restricted_unpickle(pickle.dumps(batch, protocol=2))
    assert out[b"labels"] == [3, 4] and out[b"data"].dtype == np.uint8
    with pytest.raises(UnsafeArchiveError, match="posix.system|os.system"):
        restricted_unpickle(pickle.dumps(_Evil()))


def _cifar10_archive(tmp_path):
    rng = np.random.default_rng(0)
    members, expect = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        members[f"cifar-10-batches-py/{name}"] = pickle.dumps({b"data": data, b"labels": labels,
                                                                b"batch_label": b"x", b"filenames": []}, protocol=2)
        expect[name] = (data, labels)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"label_names": [b"airplane"]}, protocol=2)
    arc = _tar(tmp_path / "cifar-10-python.tar.gz", members)
    return arc, expect


def test_cifar_reader_verifies_then_reads_the_official_layout(tmp_path):
    arc, expect = _cifar10_archive(tmp_path)
    md5 = hashlib.md5(arc.read_bytes()).hexdigest()
    spec = DatasetSpec("cifar10", "CIFAR-10", "cifar_python", 10, (RemoteFile(arc.name, None, "x", md5=md5),))
    (tx, ty), (sx, sy) = readers.read_cifar_python(tmp_path, spec)
    assert tx.shape == (20, 3, 32, 32) and tx.dtype == torch.uint8 and sx.shape == (4, 3, 32, 32)
    assert torch.equal(tx[:4].reshape(4, -1), torch.from_numpy(expect["data_batch_1"][0]))
    assert ty[:4].tolist() == expect["data_batch_1"][1] and sy.tolist() == expect["test_batch"][1]


def test_cifar_reader_refuses_an_archive_that_fails_its_checksum(tmp_path, monkeypatch):
    arc, _ = _cifar10_archive(tmp_path)
    spec = DatasetSpec("cifar10", "CIFAR-10", "cifar_python", 10,
                       (RemoteFile(arc.name, None, "x", md5="0" * 32),))
    unpickled = []
    monkeypatch.setattr("pipeline.data.readers.restricted_unpickle", lambda b: unpickled.append(b))
    with pytest.raises(ChecksumError, match="expected md5 0000"):
        readers.read_cifar_python(tmp_path, spec)
    assert unpickled == []   # nothing was unpickled


def test_registry_cifar_entries_use_the_cifar_reader():
    assert registry.get("cifar10").fmt == registry.get("cifar100").fmt == "cifar_python"
    assert "cifar_python" in readers.READERS


def _jpeg(color) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _folder_spec(arc):
    sha = hashlib.sha256(arc.read_bytes()).hexdigest()
    return DatasetSpec("cifar10_jpeg", "t", "image_folder_tar", 3, (RemoteFile(arc.name, None, "x", sha256=sha),),
                       classes=("airplane", "automobile", "bird"))


def test_image_folder_reader_labels_by_registry_class_order(tmp_path):
    arc = _tar(tmp_path / "imgs.tar.gz", {
        "train/bird/0001.jpg": _jpeg((0, 0, 255)), "train/airplane/0001.jpg": _jpeg((255, 0, 0)),
        "train/automobile/0001.jpg": _jpeg((0, 255, 0)), "test/bird/0007.jpg": _jpeg((0, 0, 255))})
    (tx, ty), (sx, sy) = readers.read_image_folder_tar(tmp_path, _folder_spec(arc))
    assert tx.shape == (3, 3, 32, 32) and tx.dtype == torch.uint8 and sx.shape == (1, 3, 32, 32)
    assert ty.tolist() == [0, 1, 2] and sy.tolist() == [2]          # airplane, automobile, bird
    assert tx[0, 0].float().mean() > 240 and tx[2, 2].float().mean() > 240   # red plane, blue bird


def test_image_folder_reader_refuses_unknown_classes(tmp_path):
    from pipeline.data.fetch import DatasetError
    arc = _tar(tmp_path / "imgs.tar.gz", {"train/zebra/0001.jpg": _jpeg((1, 2, 3)),
                                          "test/bird/0001.jpg": _jpeg((1, 2, 3))})
    with pytest.raises(DatasetError, match="zebra"):
        readers.read_image_folder_tar(tmp_path, _folder_spec(arc))


def test_the_mirrors_cifar10_jpeg_layout_matches_the_reader(mirror):
    arc = mirror / registry.get("cifar10_jpeg").files[0].mirror_path
    with tarfile.open(arc) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    classes = {n.split("/")[1] for n in names}
    assert classes == set(registry.get("cifar10_jpeg").classes)
    assert sum(n.startswith("train/") for n in names) == 50_000 and sum(n.startswith("test/") for n in names) == 10_000
