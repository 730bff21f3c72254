"""What the tables, figures and the demo's summary call a dataset.

The name of the files preprocess actually read: the official ones, or offline a stand-in (the
``title`` it recorded in data/prepared/<dataset>.json); the registry's title where nothing is
prepared (a GPU session's import, say). Kept out of prepared.py, whose bytes are part of every run key.
"""
from __future__ import annotations

import json
from pathlib import Path

from .prepared import PREPARED_DIR, paths
from .registry import get


def title(dataset: str, root: Path = PREPARED_DIR) -> str:
    meta = paths(dataset, root)[1]
    return json.loads(meta.read_text()).get("title", get(dataset).title) if meta.exists() else get(dataset).title
