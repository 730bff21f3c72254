"""Read verified raw archives into uint8 image tensors and int64 labels.

Only files that passed their checksum in ``fetch`` reach these readers. The
idx format is parsed by torchvision's own MNIST readers; zip members are read
in memory (never extracted to disk), so no archive path can escape a folder.
"""
from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from ..compat import import_torchvision
from .archives import read_tar_members, restricted_unpickle
from .fetch import DatasetError, verify
from .image_folders import read_cub, read_tiny_imagenet

Split = tuple[torch.Tensor, torch.Tensor]  # images uint8 [N, H, W] or [N, C, H, W], labels int64 [N]
# Every reader takes (raw folder, registry spec) and returns (train split, official test split).


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


def read_idx(raw_dir: Path, spec=None) -> tuple[Split, Split]:
    """MNIST / Fashion-MNIST: the four official .gz idx files."""
    r = lambda n: (raw_dir / n).read_bytes()  # noqa: E731
    train = _idx_pair(r("train-images-idx3-ubyte.gz"), r("train-labels-idx1-ubyte.gz"))
    test = _idx_pair(r("t10k-images-idx3-ubyte.gz"), r("t10k-labels-idx1-ubyte.gz"))
    return train, test


def read_emnist_balanced(raw_dir: Path, spec=None) -> tuple[Split, Split]:
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


def read_cifar_python(raw_dir: Path, spec) -> tuple[Split, Split]:
    """CIFAR-10/100 from the official python archive, read in memory.

    The archive's checksum is verified again right here, before any batch is
    unpickled, and batches are unpickled with a restricted unpickler
    (numpy arrays only). Images come back as uint8 [N, 3, 32, 32].
    """
    f = spec.files[0]
    archive = raw_dir / f.name
    verify(f, archive, spec.name)
    if spec.name == "cifar10":
        base, train, test, label_key = "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], \
            ["test_batch"], b"labels"
    else:
        base, train, test, label_key = "cifar-100-python", ["train"], ["test"], b"fine_labels"
    blobs = read_tar_members(archive, [f"{base}/{n}" for n in train + test])

    def load(names: list[str]) -> Split:
        xs, ys = [], []
        for n in names:
            batch = restricted_unpickle(blobs[f"{base}/{n}"])
            xs.append(torch.from_numpy(batch[b"data"].reshape(-1, 3, 32, 32).copy()))
            ys.append(torch.tensor(batch[label_key], dtype=torch.int64))
        return torch.cat(xs), torch.cat(ys)

    return load(train), load(test)


def read_image_folder_tar(raw_dir: Path, spec) -> tuple[Split, Split]:
    """``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` inside a verified tar(.gz), decoded in memory.

    Labels follow the registry's class order (the folder names must be exactly
    those classes); files are taken in name order. Decoding uses Pillow, so it
    works without torchvision's image extension. Images: uint8 [N, 3, H, W].
    """
    f = spec.files[0]
    archive = raw_dir / f.name
    verify(f, archive, spec.name)
    index = {c: i for i, c in enumerate(spec.classes)}
    found: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    data: dict[str, bytes] = {}
    with tarfile.open(archive) as tar:
        # One pass in the archive's order: extracting by name searches the member list and seeks
        # backwards in the gzip stream (decompressing again from the start), quadratic in the images.
        for m in tar:
            parts = PurePosixPath(m.name).parts
            if not m.isfile() or len(parts) != 3 or not parts[2].lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            split, cls, _ = parts
            if split not in found or cls not in index:
                raise DatasetError(f"{archive}: unexpected member {m.name!r}; expected "
                                   f"train|test/<one of {', '.join(spec.classes)}>/<image>")
            found[split].append((m.name, index[cls]))
            data[m.name] = tar.extractfile(m).read()
    out = []
    for split in ("train", "test"):
        items = sorted(found[split])
        if not items:
            raise DatasetError(f"{archive} holds no {split}/<class>/ images")
        blobs = [data.pop(n) for n, _ in items]
        # One thread: for 32×32 images a thread pool's per-image cost exceeds Pillow's decode (20,000 CIFAR
        # JPEGs: 3.1 s in one thread, 5.1 s in a pool of 2, on a 2-core AVX2 EPYC).
        imgs = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs]
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
        out.append((x, torch.tensor([c for _, c in items], dtype=torch.int64)))
    return out[0], out[1]


# Readers whose training split comes out in class order (one folder per class); preprocess stores it
# in a seeded shuffled order instead.
CLASS_ORDERED = ("image_folder_tar", "cub_tgz", "tiny_imagenet_zip")
READERS = {"idx": read_idx, "emnist_zip": read_emnist_balanced, "cifar_python": read_cifar_python,
           "image_folder_tar": read_image_folder_tar, "cub_tgz": read_cub, "tiny_imagenet_zip": read_tiny_imagenet}
