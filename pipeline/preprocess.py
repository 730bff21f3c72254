"""DVC stage `preprocess`: raw archives -> compact uint8 tensors with written-down splits.

Usage: python -m pipeline.preprocess
For each dataset of the profile writes data/prepared/<dataset>.pt (train/val/test
tensors) and <dataset>.json (sizes, split seed, classes, raw checksums).
"""
from __future__ import annotations

import shutil

from .config import load_params
from .data import prepared, readers, registry, splits
from .download import RAW_DIR
from .io import file_digests, save_tensors, write_json
from .stage import run


def prepare(name: str, val_size: int, split_seed: int) -> dict:
    spec = registry.get(name)
    (train_x, train_y), (test_x, test_y) = readers.READERS[spec.fmt](RAW_DIR / name, spec)
    tr, va = splits.holdout(len(train_x), val_size, split_seed)
    pt, meta_path = prepared.paths(name)
    save_tensors(pt, {"train_x": train_x[tr].contiguous(), "train_y": train_y[tr].contiguous(),
                      "val_x": train_x[va].contiguous(), "val_y": train_y[va].contiguous(),
                      "test_x": test_x, "test_y": test_y})
    meta = {"dataset": name, "title": spec.title, "num_classes": spec.num_classes,
            "classes": list(spec.classes), "image_shape": list(train_x.shape[1:]),
            "sizes": {"train": len(tr), "val": len(va), "test": len(test_x),
                      "official_train": len(train_x)},
            "val_from": "official training split", "split_seed": split_seed,
            "raw_sha256": {f.name: file_digests(RAW_DIR / name / f.name)["sha256"] for f in spec.files}}
    write_json(meta_path, meta)
    return meta


def main() -> int:
    p = load_params()
    if prepared.PREPARED_DIR.exists():
        shutil.rmtree(prepared.PREPARED_DIR)
    for name in p["budget"]["datasets"]:
        m = prepare(name, p["data"]["val_size"], p["data"]["split_seed"])
        s = m["sizes"]
        print(f"preprocess: {name}: train {s['train']} / val {s['val']} / test {s['test']}")
    return 0


if __name__ == "__main__":
    run(main)
