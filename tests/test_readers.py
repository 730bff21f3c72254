"""Readers on small synthetic files in the official formats, and the splits."""
from __future__ import annotations

import gzip
import io
import struct
import zipfile

import torch

from pipeline.data import readers, splits


def idx_images(x: torch.Tensor) -> bytes:
    n, h, w = x.shape
    return struct.pack(">IIII", 0x0803, n, h, w) + x.numpy().tobytes()


def idx_labels(y: torch.Tensor) -> bytes:
    return struct.pack(">II", 0x0801, len(y)) + y.to(torch.uint8).numpy().tobytes()


def test_idx_reader_round_trips_the_official_format(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (7, 28, 28), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (7,), generator=g)
    for split in ("train", "t10k"):
        (tmp_path / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_images(x)))
        (tmp_path / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_labels(y)))
    (tx, ty), (sx, sy) = readers.read_idx(tmp_path)
    assert torch.equal(tx, x) and torch.equal(ty, y) and ty.dtype == torch.int64
    assert torch.equal(sx, x)


def test_emnist_zip_reads_balanced_split_and_transposes(tmp_path):
    x = torch.arange(2 * 28 * 28, dtype=torch.int64).remainder(256).to(torch.uint8).view(2, 28, 28)
    y = torch.tensor([3, 46])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for split in ("train", "test"):
            base = f"gzip/emnist-balanced-{split}"
            z.writestr(f"{base}-images-idx3-ubyte.gz", gzip.compress(idx_images(x)))
            z.writestr(f"{base}-labels-idx1-ubyte.gz", gzip.compress(idx_labels(y)))
        z.writestr("gzip/emnist-byclass-train-images-idx3-ubyte.gz", b"not read")
    (tmp_path / "gzip.zip").write_bytes(buf.getvalue())
    (tx, ty), _ = readers.read_emnist_balanced(tmp_path)
    assert torch.equal(tx, x.transpose(1, 2)) and ty.tolist() == [3, 46]



def test_registry_class_names_match_torchvision():
    from pipeline.compat import import_torchvision
    from pipeline.data import registry
    tv = import_torchvision()
    assert list(registry.get("fashion_mnist").classes) == tv.datasets.FashionMNIST.classes
    assert list(registry.get("emnist").classes) == tv.datasets.EMNIST.classes_split_dict["balanced"]
    assert len(registry.get("cifar100").classes) == 100 == len(set(registry.get("cifar100").classes))
    assert registry.get("mnist").classes == tuple("0123456789")


def test_holdout_split_is_disjoint_complete_and_seeded():
    tr, va = splits.holdout(100, 15, seed=3)
    assert len(va) == 15 and len(tr) == 85
    assert sorted(torch.cat([tr, va]).tolist()) == list(range(100))
    tr2, va2 = splits.holdout(100, 15, seed=3)
    assert torch.equal(va, va2)
    assert not torch.equal(va, splits.holdout(100, 15, seed=4)[1])


def _cifar100_tar(path, n_train=6, n_test=4):
    """A cifar-100-python.tar.gz in the official layout (pickled dicts of bytes keys), whose fine and coarse labels
    differ, with the images numbered so that order is checked too."""
    import hashlib
    import pickle
    import tarfile

    import numpy as np
    members = {}
    for name, n, off in (("train", n_train, 0), ("test", n_test, 50)):
        data = np.stack([np.full(3 * 32 * 32, off + i, np.uint8) for i in range(n)])
        members[f"cifar-100-python/{name}"] = pickle.dumps(
            {b"data": data, b"fine_labels": [(7 * i + off) % 100 for i in range(n)],
             b"coarse_labels": [i % 20 for i in range(n)]}, protocol=2)
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cifar100_reads_the_100_fine_labels_not_the_20_coarse_ones(tmp_path):
    from pipeline.data.registry import RemoteFile, get
    spec = get("cifar100")
    f = spec.files[0]
    sha = _cifar100_tar(tmp_path / f.name)
    spec = type(spec)(**{**spec.__dict__, "files": (RemoteFile(f.name, None, f.mirror_path, sha256=sha),)})
    (x, y), (xt, yt) = readers.read_cifar_python(tmp_path, spec)
    assert y.tolist() == [7 * i % 100 for i in range(6)] and yt.tolist() == [(7 * i + 50) % 100 for i in range(4)]
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.uint8
    assert x[:, 0, 0, 0].tolist() == list(range(6)) and xt[:, 0, 0, 0].tolist() == list(range(50, 54))
