"""Probes of a snapshot (pipeline/snapshots/probes.py): a recorded run retrained with a change, recorded beside it."""
from __future__ import annotations

import pytest

from tests.test_rekey import _current


def test_a_probe_is_its_run_with_the_change_and_is_recorded_once(toy):
    from pipeline.snapshots.probes import probe, probe_rows
    from pipeline.snapshots.records import SnapshotError, read_records
    from pipeline.training.run_key import key_of
    snap, records = _current(toy)
    run = "models/classifiers/fcn/toy/alpha_0.1_seed_0"
    rec = probe(snap, run, "rounded", {"input.shift_draw": "rounded", "train_on_validation": True}, toy / "p")
    base = next(r for r in records if r["run"] == run)
    assert rec["run"] == "models/probes/rounded/classifiers/fcn/toy/alpha_0.1_seed_0"
    assert rec["config"] == base["config"] | {"input": base["config"]["input"] | {"shift_draw": "rounded"},
                                              "train_on_validation": True}
    assert rec["key"] == key_of(rec["config"], rec["data_sha256"], rec["execution"]) != base["key"]
    assert rec["sizes"]["train"] == base["sizes"]["train"] + base["sizes"]["val"]
    assert rec["probe"] == {"of": run, "set": {"input.shift_draw": "rounded", "train_on_validation": True},
                            "precision": None}  # no teacher
    assert rec["test_acc"] != base["test_acc"] or rec["test_nll"] != base["test_nll"]
    n = len(read_records(snap / "runs.json"))
    assert probe(snap, run, "rounded", {"input.shift_draw": "rounded"}, toy / "p") == rec   # not trained twice
    assert len(read_records(snap / "runs.json")) == n
    [row] = probe_rows(read_records(snap / "runs.json"))
    assert row["difference"] == rec["test_acc"] - base["test_acc"] and row["n_seeds"] == 1
    with pytest.raises(SnapshotError, match="names no section"):
        probe(snap, run, "x", {"nothing.here": 1}, toy / "p")
    with pytest.raises(SnapshotError, match="lower-case"):
        probe(snap, run, "../up", {}, toy / "p")
    student = "models/students/ls/probabilities_seed_0"   # a student: against its teacher as recorded
    s = probe(snap, student, "halved", {"loss.beta": 0.3}, toy / "p")
    recorded = next(r for r in records if r["run"] == student)
    assert s["config"]["teacher"] == recorded["config"]["teacher"] and s["config"]["loss"]["beta"] == 0.3
    assert s["probe"]["teacher"] == "models/teachers/ls/seed_0"


def test_a_student_probed_under_its_probed_teachers_name_learns_from_that_teacher(toy):
    """Figure 7's replication variant: its α = 0 teacher with dropout, then the students distilled from it."""
    from pipeline.snapshots.probes import probe
    snap, records = _current(toy)
    teacher = probe(snap, "models/teachers/ls/seed_0", "dropout_teacher", {"model.dropout": 0.5}, toy / "p")
    assert teacher["config"]["model"]["dropout"] == 0.5
    s = probe(snap, "models/students/ls/probabilities_seed_0", "dropout_teacher", {}, toy / "p")
    recorded = next(r for r in records if r["run"] == "models/students/ls/probabilities_seed_0")
    assert s["config"] == recorded["config"] | {"teacher": teacher["key"]}
    assert s["probe"]["teacher"] == teacher["run"] and s["key"] != recorded["key"]
    plain = probe(snap, "models/students/ls/probabilities_seed_0", "as_recorded", {}, toy / "p")
    assert plain["config"] == recorded["config"] and plain["test_nll"] == recorded["test_nll"]  # nothing changed
    assert 0 < s["gamma"] and 0 < plain["gamma"] and s["gamma"] != plain["gamma"]  # each its own teacher's γ


def test_the_two_table4_teachers_students_get_two_probes():
    """They share their last folder name (probabilities_seed_0): a probe of the second must not be taken for the
    first's (a name from the dataset and that folder alone did that)."""
    from pipeline.snapshots.probes import probe_name
    ls, dropout = ({"run": f"models/students/{t}/probabilities_seed_0", "config": {"dataset": "mnist"}}
                   for t in ("ls", "dropout"))
    assert probe_name("x", ls) == "models/probes/x/students/ls/probabilities_seed_0" != probe_name("x", dropout)
