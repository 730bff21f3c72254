"""Multi30k task 1 from its verified raw files: one sentence per line, gzip, parallel EN/DE."""
from __future__ import annotations

import gzip
from pathlib import Path

SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}


def read_split(raw_dir: Path, split: str) -> tuple[list[str], list[str]]:
    """(English, German) sentences of a split, in file order, stripped of the line end only."""
    def lines(lang: str) -> list[str]:
        text = gzip.decompress((Path(raw_dir) / f"{SPLITS[split]}.{lang}.gz").read_bytes()).decode("utf-8")
        return text.rstrip("\n").split("\n")
    en, de = lines("en"), lines("de")
    if len(en) != len(de):
        raise ValueError(f"Multi30k {split}: {len(en)} English but {len(de)} German lines")
    return en, de
