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
