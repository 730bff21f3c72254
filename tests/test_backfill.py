"""Predictions for records older than them (pipeline/snapshots/backfill.py): only from a retraining that is the
recorded run, shared by its aliases, and nothing attached where a metric differs."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_rekey import _current


def _read(snap, r):
    with np.load(snap / r["predictions"]["file"]) as f:
        return {k: f[k] for k in f.files}


def test_every_reproduced_record_gets_its_predictions_and_an_alias_shares_them(toy):
    from pipeline.io import file_digests, write_json
    from pipeline.snapshots.backfill import backfill
    from pipeline.snapshots.records import read_records
    snap, records = _current(toy)
    alias = records[0] | {"run": "models/sweep_teachers/figure7/alpha_0.1_seed_0", "seconds": None}
    write_json(snap / "runs.json", records + [alias])
    done = [names for _, names in backfill(snap, ["models/"], toy / "w2")]
    assert len(done) == 4  # four trainings: the alias is not trained again
    assert ["models/classifiers/fcn/toy/alpha_0.1_seed_0", alias["run"]] in done
    after = read_records(snap / "runs.json")
    by_run = {r["run"]: r for r in after}
    assert by_run[alias["run"]]["predictions"] == by_run[records[0]["run"]]["predictions"]
    for r in after:
        p = _read(snap, r)
        assert file_digests(snap / r["predictions"]["file"])["sha256"] == r["predictions"]["sha256"]
        assert round(100 * float((p["pred"] == p["label"]).mean()), 4) == r["test_acc"]  # the recorded run's
        assert {k: v for k, v in r.items() if k != "predictions"} == next(
            x for x in records + [alias] if x["run"] == r["run"])  # nothing else of the record changed
    assert list(backfill(snap, ["models/"], toy / "w2")) == []  # a second call has nothing left to do


def test_a_retraining_that_differs_from_its_record_attaches_nothing(toy):
    from pipeline.io import write_json
    from pipeline.snapshots.backfill import backfill
    from pipeline.snapshots.records import SnapshotError, read_records
    snap, records = _current(toy)
    i = next(i for i, r in enumerate(records) if r["run"] == "models/teachers/ls/seed_0")
    records[i] = records[i] | {"test_nll": records[i]["test_nll"] + 1e-5}  # another machine's last digit
    write_json(snap / "runs.json", records)
    with pytest.raises(SnapshotError, match="models/teachers/ls/seed_0 retrained here is not its recorded run"):
        list(backfill(snap, ["models/teachers/"], toy / "w2"))
    assert read_records(snap / "runs.json") == records
    assert not (snap / "predictions").exists()


def test_a_record_of_one_training_already_given_predictions_shares_them_without_training(toy):
    from pipeline.io import write_json
    from pipeline.snapshots.backfill import backfill
    from pipeline.snapshots.records import read_records
    snap, records = _current(toy)
    list(backfill(snap, ["models/classifiers/"], toy / "w2"))  # the classifier is given its predictions
    twin = {k: v for k, v in read_records(snap / "runs.json")[0].items() if k != "predictions"}
    twin |= {"run": "models/sweep_teachers/figure7/alpha_0.1_seed_0"}  # the same key and metrics, recorded later
    write_json(snap / "runs.json", read_records(snap / "runs.json") + [twin])
    assert list(backfill(snap, ["models/sweep_teachers/"], toy / "w3")) == []  # nothing trained
    after = read_records(snap / "runs.json")
    assert after[-1]["predictions"] == after[0]["predictions"] and not (toy / "w3").exists()


def test_a_piece_name_held_for_other_work_is_refused(toy):
    from pipeline.io import read_json, write_json
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.seeds import check_piece_name, note_piece
    snap, _ = _current(toy)
    prov = read_json(snap / "provenance.json")
    write_json(snap / "provenance.json", prov | {"pieces": {"seed1": {"done": True, "seconds": 9}}})
    with pytest.raises(SnapshotError, match="already has a piece 'seed1' for other work"):
        check_piece_name(snap, "seed1", "predictions: records under models/")
    note_piece(snap, "p", "predictions: x (tools/records.py predictions)", 2, 5, "c" * 40, {})
    note_piece(snap, "p", "predictions: x (tools/records.py predictions)", 1, 4, "c" * 40, {})  # resumed
    assert {k: read_json(snap / "provenance.json")["pieces"]["p"][k] for k in ("runs", "seconds")} == \
        {"runs": 3, "seconds": 9}
