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
