"""The classifier zoo's datasets: the official formats of CUB and Tiny ImageNet, the CIFAR split protocol, and
the shuffled storage of class-ordered training splits."""
from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest
import torch
from PIL import Image

from pipeline.data import image_folders, registry
from pipeline.data.registry import DatasetSpec, RemoteFile


def _jpeg(color, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _spec(name, fmt, path):
    return DatasetSpec(name, name, fmt, 2, (RemoteFile(path.name, None, "x",
                                                       sha256=hashlib.sha256(path.read_bytes()).hexdigest()),))


def test_cub_reader_follows_the_official_split_files_and_resizes(tmp_path):
    files = {"001.A/a1.jpg": ((255, 0, 0), 1, 1), "001.A/a2.jpg": ((250, 0, 0), 1, 0),
             "002.B/b1.jpg": ((0, 0, 255), 2, 1)}
    members = {"CUB_200_2011/images.txt": "".join(f"{i} {p}\n" for i, p in enumerate(files, 1)),
               "CUB_200_2011/image_class_labels.txt": "".join(f"{i} {c}\n" for i, (_, c, _) in
                                                              enumerate(files.values(), 1)),
               "CUB_200_2011/train_test_split.txt": "".join(f"{i} {t}\n" for i, (_, _, t) in
                                                            enumerate(files.values(), 1))}
    arc = tmp_path / "CUB_200_2011.tgz"
    with tarfile.open(arc, "w:gz") as tar:
        for name, data in [*((k, v.encode()) for k, v in members.items()),
                           *((f"CUB_200_2011/images/{p}", _jpeg(col, (50 + i, 30))) for i, (p, (col, _, _)) in
                             enumerate(files.items()))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tx, ty), (sx, sy) = image_folders.read_cub(tmp_path, _spec("cub200", "cub_tgz", arc))
    assert tx.shape == (2, 3, 256, 256) and sx.shape == (1, 3, 256, 256)
    assert ty.tolist() == [0, 1] and sy.tolist() == [0]          # labels 1-based in the files
    assert tx[1, 2].float().mean() > 240                           # image 3 (blue) is the second training image


def test_tiny_imagenet_reader_uses_val_annotations_for_labels(tmp_path):
    arc = tmp_path / "tiny-imagenet-200.zip"
    r = "tiny-imagenet-200"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr(f"{r}/wnids.txt", "n02\nn01\n")
        z.writestr(f"{r}/train/n01/images/n01_0.JPEG", _jpeg((255, 0, 0), (64, 64)))
        z.writestr(f"{r}/train/n02/images/n02_0.JPEG", _jpeg((0, 255, 0), (64, 64)))
        z.writestr(f"{r}/train/n02/n02_boxes.txt", "n02_0.JPEG\t0\t0\t1\t1\n")
        z.writestr(f"{r}/val/images/val_0.JPEG", _jpeg((0, 255, 0), (64, 64)))
        z.writestr(f"{r}/val/images/val_1.JPEG", _jpeg((255, 0, 0), (64, 64)))
        z.writestr(f"{r}/val/val_annotations.txt", "val_0.JPEG\tn02\t0\t0\t10\t10\nval_1.JPEG\tn01\t1\t1\t9\t9\n")
    (tx, ty), (sx, sy) = image_folders.read_tiny_imagenet(tmp_path, _spec("tiny_imagenet", "tiny_imagenet_zip", arc))
    assert tx.shape == (2, 3, 64, 64) and ty.tolist() == [0, 1]    # classes: sorted wnids
    assert sy.tolist() == [1, 0] and sx[0, 1].float().mean() > 240  # val_0 is n02 (green)


def _toy_raw(tmp_path, name, n_train, n_test):
    from pipeline.data import readers
    spec = registry.get(name)
    raw = tmp_path / "data/raw" / name
    raw.mkdir(parents=True)
    (raw / spec.files[0].name).write_bytes(b"not read")
    g = torch.Generator().manual_seed(0)
    fake = (((torch.arange(n_train) % 256).to(torch.uint8)[:, None, None, None].expand(n_train, 3, 2, 2).clone(),
             torch.randint(0, 10, (n_train,), generator=g)),
            (torch.zeros(n_test, 3, 2, 2, dtype=torch.uint8), torch.randint(0, 10, (n_test,), generator=g)))
    return readers, spec, fake


@pytest.mark.parametrize("report, sizes", [("heldout", {"train": 40_000, "val": 5_000, "test": 10_000}),
                                           ("official_test", {"train": 45_000, "val": 5_000, "test": 10_000})])
def test_cifar_split_protocols_have_the_papers_sizes_and_are_disjoint(tmp_path, monkeypatch, report, sizes):
    from pipeline.io import load_tensors
    from pipeline.stages import preprocess
    monkeypatch.chdir(tmp_path)
    readers, spec, fake = _toy_raw(tmp_path, "cifar10", 50_000, 10_000)
    monkeypatch.setitem(readers.READERS, spec.fmt, lambda raw, s: fake)
    monkeypatch.setattr(preprocess, "verify_dataset", lambda spec, folder: spec)  # a fake archive (tests/test_fetch.py)
    meta = preprocess.prepare("cifar10", 5000, 0, report)
    assert {k: meta["sizes"][k] for k in sizes} == sizes
    t = load_tensors(tmp_path / "data/prepared/cifar10.pt")
    if report == "heldout":       # reported images come from the official training set, val from its test set
        assert meta["test_from"].startswith("official training") and meta["val_from"] == "official test split"
        assert t["val_x"].sum() == 0 and t["test_x"].sum() > 0
    else:
        assert meta["test_from"] == "official test split" and t["test_x"].sum() == 0


@pytest.mark.parametrize("name, shuffled", [("cifar10_jpeg", True), ("cifar10", False)])
def test_a_class_ordered_training_split_is_stored_shuffled_so_a_prefix_holds_every_class(tmp_path, monkeypatch,
                                                                                          name, shuffled):
    """Image-folder readers return one class after another; preprocess stores that split in a seeded order,
    so `max_train_examples` keeps every class. Readers already in mixed order (CIFAR batches) are kept."""
    from pipeline.io import load_tensors
    from pipeline.stages import preprocess
    monkeypatch.chdir(tmp_path)
    readers, spec, _ = _toy_raw(tmp_path, name, 50_000, 10_000)
    labels = torch.arange(50_000) // 5_000  # class order: 5,000 of class 0, then class 1, ...
    fake = ((labels.to(torch.uint8)[:, None, None, None].expand(50_000, 3, 2, 2).clone(), labels),
            (torch.zeros(10_000, 3, 2, 2, dtype=torch.uint8), torch.arange(10_000) % 10))
    monkeypatch.setitem(readers.READERS, spec.fmt, lambda raw, s: fake)
    monkeypatch.setattr(preprocess, "verify_dataset", lambda spec, folder: spec)
    meta = preprocess.prepare(name, 5000, 0, "heldout")
    t = load_tensors(tmp_path / f"data/prepared/{name}.pt")
    head = t["train_y"][:1000]
    assert torch.equal(t["train_x"][:, 0, 0, 0].long(), t["train_y"])  # images moved with their labels
    assert (set(head.tolist()) == set(range(10))) == shuffled
    assert meta["train_order"] == ("seeded shuffle" if shuffled else "as read")
    again = preprocess.prepare(name, 5000, 0, "heldout")
    assert again == meta and torch.equal(load_tensors(tmp_path / f"data/prepared/{name}.pt")["train_y"], t["train_y"])


def _numbered(n):
    """n distinct 3×2×2 images: image i holds i in its first two bytes (i // 256, i % 256)."""
    i = torch.arange(n)
    x = torch.zeros(n, 3, 2, 2, dtype=torch.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = (i // 256).to(torch.uint8), (i % 256).to(torch.uint8)
    return x


def _ids(x):
    return (x[:, 0, 0, 0].long() * 256 + x[:, 0, 0, 1].long()).tolist()


def test_cifar_heldout_protocol_keeps_exactly_the_seeded_images_in_each_split(tmp_path, monkeypatch):
    """Which images, not only how many: val is the seeded 5,000 of the official test split (not their complement,
    which has the same size), the reported test set is the seeded 10,000 held out of the training split, and
    training keeps the other 40,000."""
    from pipeline.data import splits
    from pipeline.io import load_tensors
    from pipeline.stages import preprocess
    monkeypatch.chdir(tmp_path)
    readers, spec, _ = _toy_raw(tmp_path, "cifar10", 50_000, 10_000)
    fake = ((_numbered(50_000), torch.arange(50_000) % 10), (_numbered(10_000), torch.arange(10_000) % 10))
    monkeypatch.setitem(readers.READERS, spec.fmt, lambda raw, s: fake)
    monkeypatch.setattr(preprocess, "verify_dataset", lambda spec, folder: spec)
    preprocess.prepare("cifar10", 5000, 7, "heldout")
    t = load_tensors(tmp_path / "data/prepared/cifar10.pt")
    train_idx, held_out = splits.holdout(50_000, 10_000, 7)
    assert _ids(t["val_x"]) == splits.holdout(10_000, 5000, 7)[1].tolist()
    assert _ids(t["test_x"]) == held_out.tolist() and _ids(t["train_x"]) == train_idx.tolist()
    assert t["test_y"].tolist() == (held_out % 10).tolist()  # labels travel with their images
