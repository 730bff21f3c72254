"""DVC stage `preprocess`: raw archives -> compact uint8 tensors with written-down splits.

Usage: python -m pipeline.stages.preprocess
For each image dataset of the profile writes data/prepared/<dataset>.pt (train/val/test
tensors) and <dataset>.json (sizes, where each split comes from, split seed,
classes, raw checksums). `test` is always the split the tables report; `val`
is only for fitting temperatures and is disjoint from both.
"""
from __future__ import annotations

from ..config import load_params
from ..data import prepared, readers, registry, splits
from ..data.fetch import DatasetError, verify_dataset
from ..io import file_digests, prune, save_tensors, write_json
from ..layout import RAW
from ..stage import run

CIFAR, CIFAR_HELDOUT = registry.CIFAR, registry.CIFAR_HELDOUT  # Müller's reported split: 10k of the 50k


def prepare(name: str, val_size: int, split_seed: int, cifar_report: str = "heldout") -> dict:
    spec = verify_dataset(registry.get(name), RAW / name)  # also outside DVC; the official files or a stand-in
    (train_x, train_y), (test_x, test_y) = readers.READERS[spec.fmt](RAW / name, spec)
    if (len(train_x), len(test_x)) != spec.sizes:
        raise DatasetError(f"{RAW / name} holds {len(train_x)} training and {len(test_x)} test examples of "
                           f"{spec.title}, not the official {spec.sizes[0]} and {spec.sizes[1]}")
    n_official = len(train_x)
    if spec.fmt in readers.CLASS_ORDERED:
        order = splits.mixed_order(n_official, split_seed)
        train_x, train_y = train_x[order], train_y[order]
    if spec.name in CIFAR and cifar_report == "heldout":
        # Müller: train on 40k, report on the other 10k of the official training set; the official
        # test set is then unused, so temperatures are fitted on part of it (never reported).
        tr, rep = splits.holdout(len(train_x), CIFAR_HELDOUT, split_seed)
        _, va = splits.holdout(len(test_x), val_size, split_seed)
        parts = {"train": (train_x[tr], train_y[tr]), "val": (test_x[va], test_y[va]),
                 "test": (train_x[rep], train_y[rep])}
        origin = {"val_from": "official test split", "test_from": "official training split (held out, Müller)"}
    else:
        tr, va = splits.holdout(len(train_x), val_size, split_seed)
        parts = {"train": (train_x[tr], train_y[tr]), "val": (train_x[va], train_y[va]), "test": (test_x, test_y)}
        origin = {"val_from": "official training split", "test_from": "official test split"}
    pt, meta_path = prepared.paths(name)
    save_tensors(pt, {f"{split}_{k}": t.contiguous() for split, xy in parts.items() for k, t in zip("xy", xy)})
    meta = {"dataset": name, "source": spec.name, "title": spec.title, "num_classes": spec.num_classes,
            "classes": list(spec.classes), "image_shape": list(train_x.shape[1:]),
            "sizes": {split: len(xy[0]) for split, xy in parts.items()} | {"official_train": n_official},
            **origin, "split_seed": split_seed,
            "train_order": "seeded shuffle" if spec.fmt in readers.CLASS_ORDERED else "as read",
            "raw_sha256": {f.name: file_digests(RAW / name / f.name)["sha256"] for f in spec.files}}
    write_json(meta_path, meta)
    return meta


def main() -> int:
    p = load_params()
    names = [n for n in p["active"]["datasets"] if registry.get(n).fmt in readers.READERS]  # text: tokenize's
    for name in names:  # every input verified before anything is deleted, also when run outside DVC
        verify_dataset(registry.get(name), RAW / name)
    prune(prepared.PREPARED_DIR, {f.name for n in names for f in prepared.paths(n)})  # datasets no longer asked for
    for name in names:
        d = p["data"]
        m = prepare(name, d["val_size_by_dataset"].get(name, d["val_size"]), d["split_seed"], d["cifar_report"])
        s = m["sizes"]
        print(f"preprocess: {name}: train {s['train']} / val {s['val']} / test {s['test']}")
    return 0


if __name__ == "__main__":
    run(main)
