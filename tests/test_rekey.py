"""Re-keying a snapshot: only on a retrained sample that matches its records, teachers before students."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.test_many import BASE, CPU, cfg, ls

FP32 = {"precision": "fp32", "channels_last": False, "compile": False, "stack": False}


def _snapshot(toy):
    """A snapshot of four toy runs (a classifier, a teacher and its student, a Figure 7 student) recorded as the
    writer records them, with keys from an older code (made up), as after a refactor."""
    from pipeline.io import write_json
    from pipeline.snapshots.writer import run_record
    from pipeline.training.backend import Job, train_runs
    from pipeline.training.dispatch import CLASSIFIER_TRAINER
    soft = {"kind": "soft_targets", "beta": 0.6, "temperature": 2.0}
    runs = [("models/classifiers/fcn/toy/alpha_0.1_seed_0", cfg(0, ls(0.1)), None),
            ("models/teachers/ls/seed_0", cfg(0, ls(0.0)), None),
            ("models/distilled/figure7/m2_alpha_0.1_seed_0", cfg(2, ls(0.1)), None)]
    ex = BASE | FP32
    records = []
    for rel, c, _ in runs:
        train_runs([Job(toy / "w" / rel, c)], CPU, ex, CLASSIFIER_TRAINER)
    teacher_key = json.loads((toy / "w/models/teachers/ls/seed_0/metrics.json").read_text())["key"]
    student = ("models/students/ls/probabilities_seed_0", cfg(0, soft, teacher_key), "models/teachers/ls/seed_0")
    train_runs([Job(toy / "w" / student[0], student[1], toy / "w" / student[2])], CPU, ex, CLASSIFIER_TRAINER)
    (toy / "w/data").symlink_to(toy / "data")
    for rel, _, _ in runs + [student]:
        records.append(run_record(toy / "w", toy / "w" / rel, {}, {}, 15))
    old = {r["key"]: f"{i:016x}" for i, r in enumerate(records)}  # the keys an older code gave them
    for r in records:
        r["key"] = old[r["key"]]
        if r["config"].get("teacher"):
            r["config"]["teacher"] = old[r["config"]["teacher"]]
    snap = toy / "results/toy"
    write_json(snap / "runs.json", records)
    params = __import__("yaml").safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    write_json(snap / "provenance.json", {"profile": "default", "commit": "0" * 40, "complete": True,
                                          "params": params, "pieces": {}})
    return snap, records


def _current(toy):
    """The toy snapshot with today's keys (as after a re-key)."""
    from pipeline.io import write_json
    from pipeline.snapshots.rekey import rekeyed_records
    snap, records = _snapshot(toy)
    records = rekeyed_records(records)
    write_json(snap / "runs.json", records)
    return snap, records


def test_records_get_todays_keys_and_students_their_teachers_new_key(toy):
    from pipeline.snapshots.rekey import rekeyed_records
    from pipeline.training.run_key import key_of
    _, records = _snapshot(toy)
    out = rekeyed_records(records)
    by_run = {r["run"]: r for r in out}
    teacher, student = by_run["models/teachers/ls/seed_0"], by_run["models/students/ls/probabilities_seed_0"]
    assert student["config"]["teacher"] == teacher["key"]
    for r in out:
        assert r["key"] == key_of(r["config"], r["data_sha256"], r["execution"])
    assert [r["key"] for r in out] == [json.loads((toy / "w" / r["run"] / "metrics.json").read_text())["key"]
                                       for r in out]  # exactly the keys the runs were trained under today


def test_a_retrained_sample_that_matches_rekeys_the_snapshot(toy):
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.rekey import rekey, retrain
    from pipeline.snapshots.staleness import stale_runs
    snap, _ = _snapshot(toy)
    assert len(stale_runs(snap)[0]) == 4  # every key is an older code's
    evidence = retrain(snap, ["models/students/ls/probabilities_seed_0",
                              "models/classifiers/fcn/toy/alpha_0.1_seed_0"], toy / "again")
    assert [e["run"] for e in evidence] == ["models/teachers/ls/seed_0", "models/students/ls/probabilities_seed_0",
                                            "models/classifiers/fcn/toy/alpha_0.1_seed_0"]  # the teacher first
    assert not any(e["differs"] for e in evidence)
    with pytest.raises(SnapshotError, match="lacks a Figure 7 student"):
        rekey(snap, evidence, "c" * 40, "test")
    evidence += retrain(snap, ["models/distilled/figure7/m2_alpha_0.1_seed_0"], toy / "again")
    before = (snap / "runs.json").read_bytes()
    with pytest.raises(SnapshotError, match="other code than today's"):
        rekey(snap, evidence[:-1] + [evidence[-1] | {"key": "f" * 16}], "c" * 40, "test")
    assert (snap / "runs.json").read_bytes() == before  # a refusal changes nothing
    assert rekey(snap, evidence, "c" * 40, "a test refactor") == 4
    assert stale_runs(snap)[0] == []
    prov = json.loads((snap / "provenance.json").read_text())
    assert prov["rekeyed"][0]["why"] == "a test refactor" and len(prov["rekeyed"][0]["evidence"]) == 4
    assert "params_added" not in prov["rekeyed"][0]  # no params given: the recorded ones stay as they are


def test_on_another_cpu_the_sample_must_equal_the_records_code_run_there_byte_for_byte(toy):
    """Records made on another CPU class differ here in the last digits: the evidence is then today's code against
    a baseline of the records' code on this machine (keys the records'), metrics and logits equal."""
    from pipeline.io import write_json
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.rekey import rekey, retrain
    snap, records = _snapshot(toy)
    for r in records:  # as another machine's rounding left them
        r["test_nll"] = round(r["test_nll"] + 1e-5, 5)
    write_json(snap / "runs.json", records)
    evidence = retrain(snap, ["models/students/ls/probabilities_seed_0", "models/classifiers/fcn/toy/alpha_0.1_seed_0",
                              "models/distilled/figure7/m2_alpha_0.1_seed_0"], toy / "again")
    before = (snap / "runs.json").read_bytes()
    with pytest.raises(SnapshotError, match="differ from their records"):
        rekey(snap, evidence, "c" * 40, "t")
    # the records' code run here: in this test today's code is the records' code under their (made-up) keys
    baseline = [e | {"key": e["key_before"]} for e in evidence]
    with pytest.raises(SnapshotError, match="not trained with the records' code"):
        rekey(snap, evidence, "c" * 40, "t", baseline=evidence)
    forged = baseline[:1] + [baseline[1] | {"logits_sha256": "0" * 64}] + baseline[2:]
    with pytest.raises(SnapshotError, match="on this machine"):
        rekey(snap, evidence, "c" * 40, "t", baseline=forged)
    with pytest.raises(SnapshotError, match="has no row"):
        rekey(snap, evidence, "c" * 40, "t", baseline=baseline[1:])
    assert (snap / "runs.json").read_bytes() == before  # every refusal wrote nothing
    assert rekey(snap, evidence, "c" * 40, "t", baseline=baseline) == 4
    entry = json.loads((snap / "provenance.json").read_text())["rekeyed"][-1]
    assert "same machine" in entry["rule"] and entry["baseline"] == baseline
    assert all(list(d) == ["test_nll"] for d in entry["machine_differs"].values())


def test_parameters_added_since_the_snapshot_are_written_at_todays_value_and_nothing_recorded_changes():
    from pipeline.snapshots.rekey import _with_params, params_added
    recorded = {"fcn": {"lr": [1.0], "hidden": [10]}, "distill": {"table4": {"ce_weight": 0.4}}, "seeds": [0]}
    today = {"fcn": {"lr": [0.5], "hidden": [10], "shift_draw": "uniform"}, "seeds": [0, 1],
             "distill": {"table4": {"ce_weight": 0.4, "squared_error": "half_sum"}}, "new": {"a": 1}}
    added = params_added(recorded, today)
    assert added == {"fcn.shift_draw": "uniform", "distill.table4.squared_error": "half_sum", "new": {"a": 1}}
    out = _with_params(recorded, added)
    assert out["fcn"] == {"lr": [1.0], "hidden": [10], "shift_draw": "uniform"} and out["seeds"] == [0]
    assert out["distill"]["table4"] == {"ce_weight": 0.4, "squared_error": "half_sum"} and out["new"] == {"a": 1}
    assert "shift_draw" not in recorded["fcn"]  # a copy


def test_a_sample_that_differs_from_its_record_stops_the_rekey(toy):
    from pipeline.io import write_json
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.rekey import rekey, retrain
    snap, records = _snapshot(toy)
    records[0]["test_nll"] = round(records[0]["test_nll"] + 1e-5, 5)  # a number the code no longer gives
    write_json(snap / "runs.json", records)
    evidence = retrain(snap, ["models/classifiers/fcn/toy/alpha_0.1_seed_0"], toy / "again")
    assert list(evidence[0]["differs"]) == ["test_nll"]
    with pytest.raises(SnapshotError, match="differ from their records"):
        rekey(snap, evidence, "c" * 40, "test")


def test_retraining_refuses_other_data_than_the_recorded(toy):
    from pipeline.io import write_json
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.rekey import retrain
    snap, records = _snapshot(toy)
    write_json(snap / "runs.json", [records[0] | {"data_sha256": "0" * 64}])
    with pytest.raises(SnapshotError, match="is not the data of record"):
        retrain(snap, [records[0]["run"]], toy / "again")


def test_the_precision_comparison_trains_the_other_precision_and_sets_it_beside_the_seed_spread(toy):
    """On records trained in fp32 the 'fp32' retrain is the recorded run itself, so every difference is exactly
    0; the spread is over the records of the same setting (seeds 0 and 2 of α = 0.1); a student is trained
    against its teacher retrained as recorded."""
    import statistics

    from pipeline.snapshots.precision import METRICS, compare, table
    snap, records = _current(toy)
    out = compare(snap, ["models/classifiers/fcn/toy/alpha_0.1_seed_0", "models/students/ls/probabilities_seed_0"],
                  toy / "again")
    first, student = out["runs"]
    assert first["n_seeds"] == 2 and student["n_seeds"] == 1
    assert all(first["bf16_minus_fp32"][k] == 0 for k in METRICS)
    pair = [r["test_nll"] for r in records if r["config"]["loss"] == ls(0.1) and r["config"].get("teacher") is None]
    assert first["seed_std"]["test_nll"] == statistics.stdev(pair)
    assert student["seed_std"]["test_acc"] is None and all(student["bf16_minus_fp32"][k] == 0 for k in METRICS)
    assert "| students/ls/probabilities_seed_0 (0) | test_acc |" in table(out)


def test_the_seed_spread_groups_students_by_their_teachers_setting_not_its_key():
    """Students at seeds 0 and 1 learn from teachers at seeds 0 and 1 (two keys): one setting, n = 2; a student of
    another teacher setting is not in it; the spread is recomputed as more seeds are recorded."""
    from pipeline.snapshots.precision import METRICS, with_spread
    metrics = dict.fromkeys(METRICS, 1.0)

    def rec(run, key, seed, **cfg):
        return {"run": run, "key": key, "config": {"seed": seed, "lr": 0.1} | cfg} | metrics

    recs = [rec("t/ls/seed_0", "a", 0, alpha=0.1), rec("t/ls/seed_1", "b", 1, alpha=0.1),
            rec("t/dr/seed_1", "c", 1, alpha=0.0),
            rec("s/ls_0", "d", 0, teacher="a"), rec("s/ls_1", "e", 1, teacher="b") | {"test_acc": 3.0},
            rec("s/dr_1", "f", 1, teacher="c") | {"test_acc": 9.0}]
    row = {"run": "s/ls_0", "bf16_minus_fp32": dict.fromkeys(METRICS, 0.5)}
    out = with_spread(row, recs)
    assert out["n_seeds"] == 2 and out["seed_std"]["test_acc"] == pytest.approx(2 ** 0.5)
    assert out["in_seed_stds"]["test_acc"] == pytest.approx(0.5 / 2 ** 0.5) and out["in_seed_stds"]["test_nll"] is None
    assert with_spread(row, recs[:4])["n_seeds"] == 1


@pytest.mark.parametrize("junk", ['{"run": 1}', "[1, 2]", '[{"run": "x"}]', "not json", None])
def test_junk_evidence_is_refused_in_one_line_and_changes_nothing(toy, junk, root):
    import subprocess
    import sys
    snap, _ = _snapshot(toy)
    ev = toy / "evidence.json"
    if junk is not None:
        ev.write_text(junk)
    before = (snap / "runs.json").read_bytes()
    from pipeline.snapshots import rekey as rk
    from pipeline.snapshots.records import SnapshotError
    r = subprocess.run([sys.executable, str(root / "tools/records.py"), "rekey", "x", "--evidence", str(ev), "--why",
                        "t"], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: ")
    assert str(ev) in r.stderr or "the evidence is not" in r.stderr  # refused for the evidence, before any snapshot
    with pytest.raises(SnapshotError, match="not what `tools/records.py retrain` writes"):
        rk.rekey(snap, [1, 2], "c", "t")
    assert (snap / "runs.json").read_bytes() == before


def test_evidence_is_checked_against_the_records_not_trusted(toy):
    """A row whose 'differs' was emptied by hand, one made against other records, and a sample without a kind
    of run the snapshot records are each refused, and nothing is written."""
    from pipeline.io import write_json
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.rekey import rekey, retrain
    snap, records = _snapshot(toy)
    evidence = retrain(snap, ["models/students/ls/probabilities_seed_0", "models/classifiers/fcn/toy/alpha_0.1_seed_0",
                              "models/distilled/figure7/m2_alpha_0.1_seed_0"], toy / "again")
    before = {f: (snap / f).read_bytes() for f in ("runs.json", "provenance.json")}
    forged = [dict(e) for e in evidence]
    forged[0] = forged[0] | {"metrics": forged[0]["metrics"] | {"test_acc": 1.0}, "differs": {}}
    with pytest.raises(SnapshotError, match="differ from their records"):
        rekey(snap, forged, "c" * 40, "t")
    with pytest.raises(SnapshotError, match="names runs the snapshot does not record: models/x"):
        rekey(snap, evidence + [evidence[0] | {"run": "models/x"}], "c" * 40, "t")
    with pytest.raises(SnapshotError, match="not the ones the evidence was made against"):
        rekey(snap, [evidence[0] | {"key_before": "0" * 16}] + evidence[1:], "c" * 40, "t")
    stacked = records + [records[0] | {"run": "models/classifiers/fcn/toy/stacked_seed_5",
                                       "execution": records[0]["execution"] | {"stack": True}}]
    write_json(snap / "runs.json", stacked)
    with pytest.raises(SnapshotError, match="lacks a stacked fcn run"):
        rekey(snap, evidence, "c" * 40, "t")
    write_json(snap / "runs.json", records)
    assert {f: (snap / f).read_bytes() for f in before} == before
    assert rekey(snap, evidence, "c" * 40, "t") == 4


def test_add_params_writes_the_missing_parameters_and_says_when(toy):
    from pipeline.io import write_json
    from pipeline.snapshots.rekey import add_params
    snap, _ = _snapshot(toy)
    prov = json.loads((snap / "provenance.json").read_text())
    today = copy.deepcopy(prov["params"])
    del prov["params"]["distill"]["figure7"]["hard_teacher_dropout"]
    write_json(snap / "provenance.json", prov)
    assert add_params(snap, today, "c" * 40, "a default that changes no run") == {
        "distill.figure7.hard_teacher_dropout": 0.0}
    after = json.loads((snap / "provenance.json").read_text())
    assert after["params"] == today and after["params_added"][-1]["why"] == "a default that changes no run"
    assert add_params(snap, today, "c" * 40, "again") == {}   # nothing more to add, nothing written
    assert json.loads((snap / "provenance.json").read_text()) == after
