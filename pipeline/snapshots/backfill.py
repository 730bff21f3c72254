"""Per-example test predictions for records older than them, from the same training run again.

A record written before predictions were stored (``writer.write_predictions``) has only its metrics. Its run
folder is gone, so its predictions can only come from training it again. They belong in its record only if the
retraining *is* that run: the same key (today's code is the record's code) and, at the record's precision,
every compared metric equal to the recorded one (``rekey.COMPARED``: accuracy, NLL, ECE, temperature, …). On a
CPU that rounds bf16 as the records' machine did, that holds byte for byte; on another, a metric differs in its
last digit and ``backfill`` stops with one line naming it, attaching nothing.

A record that shares the run's key and every compared metric (an alias: one training recorded under two names,
as a Figure 7 teacher that is a Table 2 run, or a second training of that key that reproduced it) gets the same
file, without training where one of them has it already. Records are rewritten after every run, so an
interrupted call loses at most the run in progress, and a second call does only what is left.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from ..io import load_tensors, write_json
from .records import SnapshotError, read_provenance, read_records
from .rekey import COMPARED, require_current, snapshot_settings, teacher_chain, train_as_recorded
from .seeds import in_work, teacher_record
from .writer import write_predictions


def lacking(records: list[dict], prefixes: list[str]) -> list[dict]:
    """The records under ``prefixes`` without predictions, one per key and metrics (aliases after the first),
    teachers before their students."""
    by_key = {r["key"]: r for r in records}
    seen, out = set(), []
    for r in sorted(records, key=lambda r: (len(teacher_chain(r, by_key)), r["run"])):
        if "predictions" not in r and r["run"].startswith(tuple(prefixes)) and _same(r) not in seen:
            seen.add(_same(r))
            out.append(r)
    return out


def shared_already(snapshot: Path) -> list[str]:
    """Give a record without predictions the file of a record with the same key and every compared metric that
    has one (one training under two names): no training needed. The names given."""
    records = read_records(snapshot / "runs.json")
    have = {_same(r): r["predictions"] for r in records if "predictions" in r}
    given = [r["run"] for r in records if "predictions" not in r and _same(r) in have]
    if given:
        write_json(snapshot / "runs.json", [r | {"predictions": have[_same(r)]} if r["run"] in given else r
                                            for r in records])
    return given


def _same(r: dict) -> tuple:
    """What two records of one training share: the key and every compared metric."""
    return r["key"], tuple(r.get(f) for f in COMPARED)


def backfill(snapshot: Path, prefixes: list[str], work: Path, n_bins: int = 15) -> Iterator[tuple[dict, list[str]]]:
    """Retrain every record under ``prefixes`` that lacks predictions (its teachers first, under ``work``) and,
    where the retraining reproduces the record, write its predictions and add them to it and its aliases; yields
    (the run's metrics, the names of the records given its predictions) after each run."""
    if isinstance(prefixes, str):
        raise TypeError("prefixes: a list of run-folder prefixes")
    settings = snapshot_settings(read_provenance(snapshot / "provenance.json"))
    shared_already(snapshot)
    todo = lacking(read_records(snapshot / "runs.json"), prefixes)
    require_current(todo, "its retraining would not be the recorded run")
    for r in todo:
        records = read_records(snapshot / "runs.json")
        teacher = teacher_record(records, r)
        if teacher:
            in_work(records, teacher, work, settings, n_bins)
        m, now = train_as_recorded(r, r["config"], work, settings, r["execution"], teacher, n_bins)
        differs = {f: (r.get(f), now.get(f)) for f in COMPARED if r.get(f) != now.get(f)}
        if m["key"] != r["key"] or differs:
            raise SnapshotError(f"{r['run']} retrained here is not its recorded run (key {m['key']} against "
                                f"{r['key']}; differs: {differs or 'nothing else'}): this machine does not "
                                "reproduce the record, so its predictions would be another run's")
        logits = load_tensors(work / r["run"] / "logits.pt")
        file = write_predictions(snapshot, r["run"], logits["test_logits"], logits["test_labels"])
        records = read_records(snapshot / "runs.json")  # again: nothing another writer added is lost
        same = [r["run"]] + [x["run"] for x in records if x["run"] != r["run"] and "predictions" not in x
                             and _same(x) == _same(r)]
        for alias in same[1:]:  # its folder under each name too: a student of the alias finds its teacher done
            if not (work / alias).exists():
                shutil.copytree(work / r["run"], work / alias)
        write_json(snapshot / "runs.json", [x | {"predictions": file} if x["run"] in same else x for x in records])
        yield m, same
