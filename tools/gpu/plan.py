"""The GPU plan (results/<profile>/gpu_plan.yaml): independent pieces of a profile in priority order.

A piece is a list of pipeline stages and the profile settings they run with: the plan's `base`
(every experiment off) with the piece's `set` on top. Pieces do not depend on each other's runs,
so a later session can run any piece still missing on a fresh machine; their metrics are merged
when the results are folded back (tools/gpu/fold.py), and the tables are rendered from the merge
with `merged_params` (the base with every done piece's settings).

Merging settings: a dict value is merged one level deep (`classifiers: {fcn: [...]}` keeps the
other models' lists), anything else is replaced. Across done pieces lists are united.
"""
from __future__ import annotations

import copy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan_file(profile: str, root: Path = ROOT) -> Path:
    return root / "results" / profile / "gpu_plan.yaml"


def load_plan(path: Path) -> dict:
    from pipeline.config import yaml12  # params as DVC reads them (YAML 1.2)
    plan = yaml12.load(Path(path).read_text())
    names = [p["name"] for p in plan["pieces"]]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: piece names repeat: {names}")
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
    """params.yaml for one piece: the profile with the plan's base and the piece's settings."""
    p = copy.deepcopy(params)
    p["profile"] = plan["profile"]
    prof = p["profiles"][plan["profile"]]
    _set(prof, plan.get("base", {}))
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
