"""`python -m pipeline.config`: check params.yaml without running anything."""
from ..stage import run
from . import load_params


def _check() -> int:
    p = load_params()
    print(f"params.yaml is valid; profile {p['profile']!r} (profiles: {', '.join(p['profiles'])})")
    return 0


run(_check)
