"""Readers for the replication's two ImageNet-style datasets, decoded in memory with Pillow.

- **CUB-200-2011** (``CUB_200_2011.tgz``): ``images.txt`` (id, path),
  ``image_class_labels.txt`` (id, class 1..200) and ``train_test_split.txt``
  (id, 1 = train) define the official 5,994 / 5,794 split. Images differ in
  size; each is resized to 256×256 here, as the replication's transforms do.
- **Tiny ImageNet** (``tiny-imagenet-200.zip``): ``train/<wnid>/images/*.JPEG``
  is the training split; the official test images have no labels, so the
  labelled ``val/`` split (labels in ``val_annotations.txt``) is what is
  reported, as in the replication. Classes are the sorted wnids of ``wnids.txt``.

Archives are checksum-verified before anything is read, and no member is
ever written to disk.
"""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .fetch import DatasetError, verify

CUB_SIZE = 256


def _decode(data: bytes, size: int | None = None) -> np.ndarray:
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img)


def _stack(imgs: list[np.ndarray], labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels, dtype=torch.int64)


def _table(text: str) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in text.splitlines() if line.strip())


def read_cub(raw_dir: Path, spec):
    f = spec.files[0]
    archive = raw_dir / f.name
    verify(f, archive, spec.name)
    root = "CUB_200_2011"
    with tarfile.open(archive) as tar:
        def text(name: str) -> str:
            member = tar.extractfile(f"{root}/{name}")
            if member is None:
                raise DatasetError(f"{archive} lacks {root}/{name}")
            return member.read().decode()
        paths, labels, is_train = (_table(text(n)) for n in
                                   ("images.txt", "image_class_labels.txt", "train_test_split.txt"))
        splits: dict[bool, tuple[list, list]] = {True: ([], []), False: ([], [])}
        for image_id in sorted(paths, key=int):
            data = tar.extractfile(f"{root}/images/{paths[image_id].strip()}").read()
            xs, ys = splits[is_train[image_id].strip() == "1"]
            xs.append(_decode(data, CUB_SIZE))
            ys.append(int(labels[image_id]) - 1)
    return _stack(*splits[True]), _stack(*splits[False])


def read_tiny_imagenet(raw_dir: Path, spec):
    f = spec.files[0]
    archive = raw_dir / f.name
    verify(f, archive, spec.name)
    root = "tiny-imagenet-200"
    with zipfile.ZipFile(archive) as z:
        wnids = sorted(z.read(f"{root}/wnids.txt").decode().split())
        index = {w: i for i, w in enumerate(wnids)}
        train: tuple[list, list] = ([], [])
        prefix = f"{root}/train/"
        for name in sorted(n for n in z.namelist() if n.startswith(prefix) and n.endswith(".JPEG")):
            wnid = name[len(prefix):].split("/")[0]
            if wnid not in index:
                raise DatasetError(f"{archive}: {name} is not under a class of wnids.txt")
            train[0].append(_decode(z.read(name)))
            train[1].append(index[wnid])
        ann = [line.split("\t") for line in z.read(f"{root}/val/val_annotations.txt").decode().splitlines() if line]
        val: tuple[list, list] = ([], [])
        for row in sorted(ann):
            val[0].append(_decode(z.read(f"{root}/val/images/{row[0]}")))
            val[1].append(index[row[1]])
    if not train[0] or not val[0]:
        raise DatasetError(f"{archive} holds no train/ or val/ images")
    return _stack(*train), _stack(*val)
