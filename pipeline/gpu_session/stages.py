"""Run pipeline stages in dvc.yaml's order without dvc (the GPU image has none).

Each stage is what `dvc repro` would run: its `cmd` (`python -m pipeline.stages.<name> [key]`),
with `foreach` stages expanded over the params they name, executed in this process with the
working directory holding params.yaml, data/ and models/. Nothing here decides what is stale:
the stages reuse finished runs by key, as they do under dvc.
"""
from __future__ import annotations

import runpy
import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


class StageFailed(RuntimeError):
    pass


def stage_names(dvc_yaml: Path = ROOT / "dvc.yaml") -> list[str]:
    """The stages in dvc.yaml's order (which tests/test_gpu_session.py checks is an order they can run in)."""
    return list(yaml.safe_load(Path(dvc_yaml).read_text())["stages"])


def _lookup(params: dict, ref: str):
    """The value of `${a.b.c}` in params."""
    v = params
    for part in ref.strip("${}").split("."):
        v = v[part]
    return v


def commands(name: str, params: dict, dvc_yaml: Path = ROOT / "dvc.yaml") -> list[list[str]]:
    """argv lists (after `python -m`) of one stage: one per foreach key."""
    stage = yaml.safe_load(Path(dvc_yaml).read_text())["stages"][name]
    if "foreach" not in stage:
        return [shlex.split(stage["cmd"])[2:]]
    keys = _lookup(params, stage["foreach"])
    return [[a.replace("${key}", str(k)) for a in shlex.split(stage["do"]["cmd"])[2:]] for k in keys]


def run_stages(names: list[str], params: dict, log=print) -> None:
    """Run ``names`` (in dvc.yaml's order) in this process; the working directory is the project's."""
    order = stage_names()
    unknown = [n for n in names if n not in order]
    if unknown:
        raise StageFailed(f"unknown stages {unknown}; dvc.yaml has {order}")
    for name in sorted(names, key=order.index):
        for argv in commands(name, params):
            log(f"stage {name}: python -m {' '.join(argv)}")
            sys.argv = [argv[0], *argv[1:]]
            try:
                runpy.run_module(argv[0], run_name="__main__", alter_sys=False)
            except SystemExit as e:
                if e.code not in (0, None):
                    raise StageFailed(f"stage {name} ({' '.join(argv)}) exited with {e.code}") from None
