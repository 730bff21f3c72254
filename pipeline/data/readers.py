"""Read verified raw archives into uint8 image tensors and int64 labels.

Only files that passed their checksum in ``fetch`` reach these readers. The
idx format is parsed by torchvision's own MNIST readers; zip members are read
in memory (never extracted to disk), so no archive path can escape a folder.
"""
from __future__ import annotations

import gzip
import tempfile
import zipfile
from pathlib import Path

import torch

from ..compat import import_torchvision

Split = tuple[torch.Tensor, torch.Tensor]  # images uint8 [N, H, W], labels int64 [N]


def _idx_from_bytes(data: bytes, images: bool) -> torch.Tensor:
    mnist = import_torchvision().datasets.mnist
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "idx"
        p.write_bytes(data)
        return mnist.read_image_file(str(p)) if images else mnist.read_label_file(str(p))


def _idx_pair(images_gz: bytes, labels_gz: bytes) -> Split:
    x = _idx_from_bytes(gzip.decompress(images_gz), images=True)
    y = _idx_from_bytes(gzip.decompress(labels_gz), images=False).long()
    if len(x) != len(y):
        raise ValueError(f"idx files disagree: {len(x)} images but {len(y)} labels")
    return x, y


def read_idx(raw_dir: Path) -> tuple[Split, Split]:
    """MNIST / Fashion-MNIST: the four official .gz idx files."""
    r = lambda n: (raw_dir / n).read_bytes()  # noqa: E731
    train = _idx_pair(r("train-images-idx3-ubyte.gz"), r("train-labels-idx1-ubyte.gz"))
    test = _idx_pair(r("t10k-images-idx3-ubyte.gz"), r("t10k-labels-idx1-ubyte.gz"))
    return train, test


def read_emnist_balanced(raw_dir: Path) -> tuple[Split, Split]:
    """EMNIST balanced from the official gzip.zip (read in memory).

    EMNIST stores images transposed relative to MNIST; they are transposed
    back here, as torchvision's EMNIST dataset does.
    """
    with zipfile.ZipFile(raw_dir / "gzip.zip") as z:
        def pair(split: str) -> Split:
            base = f"gzip/emnist-balanced-{split}"
            x, y = _idx_pair(z.read(f"{base}-images-idx3-ubyte.gz"), z.read(f"{base}-labels-idx1-ubyte.gz"))
            return x.transpose(1, 2).contiguous(), y
        return pair("train"), pair("test")


READERS = {"idx": read_idx, "emnist_zip": read_emnist_balanced}
