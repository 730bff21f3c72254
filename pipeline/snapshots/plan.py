"""A plan: a profile run in pieces, results/<profile>/plan.yaml (tools/results.py) or gpu_plan.yaml (tools/gpu).

One format. ``profile``, ``pieces`` (each a ``name``, optional ``stages``, and the profile settings it
``set``s), optional ``base`` and top-level ``params`` overrides, and how the pieces compose:

- ``composition: cumulative`` (plan.yaml): piece i runs with the ``set`` of pieces 0..i applied in
  order; the last piece is the whole profile, and each reuses the runs of those before it.
- ``composition: independent`` (gpu_plan.yaml): each piece runs with ``base`` (every experiment off)
  and its own ``set`` on top, so a later session can run any piece still missing on a fresh machine;
  the tables of the done pieces are rendered from ``merged_params``.

Settings are merged into the profile one level deep (``classifiers: {fcn: [...]}`` keeps the other
models' lists); anything else is replaced. Across done pieces lists are united.
"""
from __future__ import annotations

import copy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


COMPOSITIONS = ("cumulative", "independent")


def plan_file(profile: str, root: Path = ROOT, gpu: bool = True) -> Path:
    return root / "results" / profile / ("gpu_plan.yaml" if gpu else "plan.yaml")


def load_plan(path: Path, composition: str | None = None) -> dict:
    """The plan in ``path``, checked; ``composition``: the one the caller runs (refused otherwise)."""
    from ..config import yaml12  # params as DVC reads them (YAML 1.2)
    plan = yaml12.load(Path(path).read_text())
    names = [p["name"] for p in plan["pieces"]]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: piece names repeat: {names}")
    if plan.get("composition") not in COMPOSITIONS:
        raise ValueError(f"{path}: composition must be one of {', '.join(COMPOSITIONS)}, "
                         f"not {plan.get('composition')!r}")
    if composition is not None and plan["composition"] != composition:
        raise ValueError(f"{path}: its pieces are {plan['composition']}; this command runs {composition} pieces "
                         "(cumulative: tools/results.py; independent: python -m tools.gpu)")
    return plan


def _set(section: dict, values: dict) -> None:
    for k, v in values.items():
        if isinstance(v, dict) and isinstance(section.get(k), dict):
            section[k] = {**section[k], **copy.deepcopy(v)}
        else:
            section[k] = copy.deepcopy(v)


def _deep(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def piece_params(params: dict, plan: dict, piece: dict) -> dict:
    """params.yaml for one piece of the plan: the profile with the plan's base and the settings the
    plan's composition gives the piece (its own, or those of every piece up to it)."""
    p = copy.deepcopy(params)
    p["profile"] = plan["profile"]
    prof = p["profiles"][plan["profile"]]
    _set(prof, plan.get("base", {}))
    if plan.get("composition") == "cumulative" and piece in plan["pieces"]:
        for before in plan["pieces"][:plan["pieces"].index(piece)]:
            _set(prof, before.get("set", {}))
    _set(prof, piece.get("set", {}))
    _deep(p, plan.get("params", {}))  # top-level overrides (the CPU rehearsal's execution.device)
    return p


def _unite(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return a + [x for x in b if x not in a]
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _unite(a[k], b[k]) if k in a and k in b else copy.deepcopy(b.get(k, a.get(k)))
                for k in {**a, **b}}
    return copy.deepcopy(b if b is not None else a)


def merged_params(params: dict, plan: dict, done: list[str]) -> dict:
    """The params the merged tables describe: the base, with the settings of every done piece
    (a key that several pieces set gets their values united)."""
    acc: dict = {}
    for piece in plan["pieces"]:
        if piece["name"] in done:
            for k, v in piece.get("set", {}).items():
                acc[k] = _unite(acc[k], v) if k in acc else copy.deepcopy(v)
    return piece_params(params, plan, {"set": acc})


def pieces_todo(plan: dict, done: list[str]) -> list[dict]:
    return [p for p in plan["pieces"] if p["name"] not in done]
