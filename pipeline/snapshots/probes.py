"""Probes: a recorded run trained again with some of its configuration changed, recorded beside it.

A probe asks what one difference does to one run, e.g. the replication's shift draw on the Fashion-MNIST α = 0
run: ``probe(snapshot, "models/classifiers/fcn/fashion_mnist/alpha_0_seed_0", "rounded_shift",
{"input.shift_draw": "rounded"})`` trains that run's configuration with the change (its seed, its data of the
recorded sha256, its execution, or ``precision``; a student against its teacher as recorded), with today's code,
and appends the record
``models/probes/rounded_shift/classifiers/fcn/fashion_mnist/alpha_0_seed_0`` with ``probe: {of, set, precision,
teacher}`` and its per-example predictions. A student probed under the name of a probed teacher learns from that
teacher. ``probe_rows`` sets each probe beside the run it varies and that run's seeds.
"""
from __future__ import annotations

import copy
import re
import statistics
from pathlib import Path

import torch

from ..io import write_json
from .records import SnapshotError, read_provenance, read_records
from .rekey import require_current, snapshot_settings, train_as_recorded
from .seeds import in_work, student_gamma, teacher_record

NAME = re.compile(r"[a-z0-9][a-z0-9_]*")


def changed(config: dict, changes: dict) -> dict:
    """``config`` with each dotted key of ``changes`` set (``schedule.epoch_steps``); a key whose parent is not a
    section of the configuration is refused."""
    out = copy.deepcopy(config)
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = out
        for k in parents:
            if not isinstance(node.get(k), dict):
                raise SnapshotError(f"probe: {key} names no section of the run's configuration")
            node = node[k]
        node[last] = value
    return out


def probe_name(name: str, r: dict) -> str:
    """The record name of probe ``name`` of record ``r``: models/probes/<name>/<r's run below models/>, unique as
    the run's own name is (the two Table 4 teachers' students share their last folder name)."""
    return f"models/probes/{name}/{r['run'].removeprefix('models/')}"


def probe(snapshot: Path, run: str, name: str, changes: dict, work: Path, precision: str | None = None,
          n_bins: int = 15) -> dict:
    """Train ``run`` with ``changes`` (and ``precision``) under ``work``; append and return its probe record.

    A student learns from its teacher as recorded, unless the same probe has recorded that teacher changed:
    then from that (probe a teacher first, then its students under the same name, e.g. Figure 7's α = 0
    teacher with the replication's dropout and the students distilled from it)."""
    if not NAME.fullmatch(name):
        raise SnapshotError(f"probe name {name!r}: lower-case letters, digits and _ only")
    records = read_records(snapshot / "runs.json")
    by_run = {r["run"]: r for r in records}
    if run not in by_run:
        raise SnapshotError(f"{snapshot / 'runs.json'} has no record {run}")
    r = by_run[run]
    require_current([r], "a probe compared with its records")
    rel = probe_name(name, r)
    if rel in by_run:
        return by_run[rel]
    cfg = changed(r["config"], changes)
    execution = r["execution"] | ({"precision": precision} if precision else {})
    settings = snapshot_settings(read_provenance(snapshot / "provenance.json"))
    teacher = teacher_record(records, r)
    if teacher and (probed := by_run.get(probe_name(name, teacher))):  # this probe changed the teacher too
        teacher = probed
        cfg["teacher"] = probed["key"]
    if teacher:  # a student: its teacher as recorded (or as this probe recorded it), trained or found in ``work``
        in_work(records, teacher, work, settings, n_bins)
    m, rec = train_as_recorded(r | {"run": rel}, cfg, work, settings, execution, teacher, n_bins,
                               predictions_to=snapshot)
    rec |= {"seconds": m.get("seconds"), "device": "cpu", "torch": torch.__version__,
            "probe": {"of": run, "set": changes, "precision": precision}
            | ({"teacher": teacher["run"]} if teacher else {})}
    if teacher and cfg["loss"]["kind"] == "soft_targets":  # Figure 7's x, as for its seeds: its teacher's γ at its T
        rec["gamma"] = student_gamma(cfg, work / teacher["run"])
    write_json(snapshot / "runs.json", read_records(snapshot / "runs.json") + [rec])
    return rec


def probe_rows(records: list[dict]) -> list[dict]:
    """Each probe's test accuracy beside the run it varies and the mean and std over that run's seeds."""
    by_run = {r["run"]: r for r in records}
    rows = []
    for r in records:
        if "probe" not in r:
            continue
        base = by_run[r["probe"]["of"]]
        seeds = [x["test_acc"] for x in records if "probe" not in x and
                 re.sub(r"_seed_\d+$", "", x["run"]) == re.sub(r"_seed_\d+$", "", base["run"])]
        rows.append({"probe": r["run"].split("/")[2], "run": base["run"], "seed": r["config"]["seed"],
                     "set": r["probe"]["set"], "precision": r["probe"]["precision"] or r["execution"]["precision"],
                     "test_acc": r["test_acc"], "same_seed": base["test_acc"], "difference": r["test_acc"] -
                     base["test_acc"], "seeds_mean": statistics.fmean(seeds),
                     "seeds_std": statistics.stdev(seeds) if len(seeds) > 1 else None, "n_seeds": len(seeds)})
    return rows
