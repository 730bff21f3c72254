"""DVC stage `download`: fetch and verify the raw files of the profile's datasets.

Usage: python -m pipeline.stages.download
From the official sources, or from $DATA_MIRROR when it is set.
Writes data/raw/<dataset>/; folders of datasets no longer in the profile are pruned.
"""
from __future__ import annotations

from ..config import load_params
from ..data import registry
from ..data.fetch import fetch_dataset, mirror_root
from ..io import prune
from ..layout import RAW
from ..stage import run


def main() -> int:
    p = load_params()
    wanted = p["active"]["datasets"]
    mirror = mirror_root()
    print(f"download: {', '.join(wanted)} from {mirror or 'the official sources'}")
    for name in wanted:
        spec = registry.get(name)
        used, files = fetch_dataset(spec, RAW / name, mirror)
        if used is not spec:
            print(f"  {name}: the official files are not in DATA_MIRROR; using {used.title} in their place "
                  f"(named so in every table and figure)")
        print(f"  {name}: {len(files)} file(s) verified")
    prune(RAW, set(wanted))
    return 0


if __name__ == "__main__":
    run(main)
