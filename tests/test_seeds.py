"""More seeds for a snapshot as records (pipeline/snapshots/seeds.py), and the tables recomputed from records."""
from __future__ import annotations

import json
import shutil
import statistics

import torch

from tests.test_rekey import _current, _snapshot


def test_new_seeds_of_recorded_settings_are_trained_recorded_and_not_trained_twice(toy):
    from pipeline.snapshots.records import read_records
    from pipeline.snapshots.seeds import add_seeds, planned
    from pipeline.training.run_key import key_of
    snap, records = _current(toy)
    todo = planned(records, ["models/classifiers/"], [1, 3])
    assert [(t["run"], s) for t, s in todo] == [("models/classifiers/fcn/toy/alpha_0.1_seed_0", 1),
                                                ("models/classifiers/fcn/toy/alpha_0.1_seed_0", 3)]
    added = add_seeds(snap, ["models/classifiers/"], [1], toy / "w2", log=lambda m: None)
    assert [r["run"] for r in added] == ["models/classifiers/fcn/toy/alpha_0.1_seed_1"]
    new = added[0]
    assert new["config"] == records[0]["config"] | {"seed": 1} and new["execution"] == records[0]["execution"]
    assert new["key"] == key_of(new["config"], new["data_sha256"], new["execution"])
    assert (snap / new["predictions"]["file"]).is_file() and new["seconds"] is not None
    assert read_records(snap / "runs.json")[-1] == new and len(read_records(snap / "runs.json")) == 5
    assert add_seeds(snap, ["models/classifiers/"], [1], toy / "w2", log=lambda m: None) == []  # nothing twice


def _records(p, acc):
    """Records of every Table 2 run of profile ``p`` with test accuracy ``acc(alpha, seed)``."""
    from pipeline.config import alphas_to_train, classifiers
    from pipeline.layout import alpha_key
    out = []
    for arch, ds in classifiers(p):
        for a in alphas_to_train(p, arch):
            for s in (0, 1, 2, 3, 4):
                out.append({"run": f"models/classifiers/{arch}/{ds}/{alpha_key(a)}_seed_{s}", "test_acc": acc(a, s),
                            "test_ece": 0.01 * s, "test_ece_ts": 0.001, "temperature": 1.0 + s / 10,
                            "test_nll": 0.1, "test_nll_ts": 0.09})
    return out


def test_summaries_over_the_records_are_the_stages_mean_and_sample_std(root):
    from pipeline.config import load_params
    from pipeline.layout import alpha_key
    from pipeline.snapshots.seeds import summaries
    p = load_params(root / "params.yaml")
    train, cal = summaries(_records(p, lambda a, s: 90 + a + s / 100), p)
    arch, ds = "fcn", "mnist"
    m = train[arch][ds][alpha_key(0.0)]
    accs = [90 + s / 100 for s in range(5)]
    assert m["n_seeds"] == 5 and m["test_acc"] == round(statistics.mean(accs), 4)
    assert m["test_acc_std"] == round(statistics.stdev(accs), 4)
    c = cal[arch][ds][alpha_key(0.0)]
    assert c["temperature"] == 1.2 and c["temperature_std"] == round(statistics.stdev([1 + s / 10 for s in
                                                                                        range(5)]), 5)
    h = train[arch][ds]["head_to_head"]
    assert h["delta"] == round(train[arch][ds][alpha_key(p["alpha"])]["test_acc"] - m["test_acc"], 4)


def test_the_committed_reference_tables_are_its_records_summarised(root):
    """Table 2 and Table 3 of results/reference/tables.json are the means of its records (to the records'
    rounding), whichever of the two ways wrote them (the pipeline, or tools/records.py seeds)."""
    from pipeline.config import validate
    from pipeline.layout import alpha_key
    from pipeline.snapshots.records import read_provenance, read_records
    from pipeline.snapshots.seeds import summaries
    snap = root / "results/reference"
    p = validate(read_provenance(snap / "provenance.json")["params"])
    train, cal = summaries(read_records(snap / "runs.json"), p)
    tables = json.loads((snap / "tables.json").read_text())
    for ds in ("mnist", "fashion_mnist"):
        for key, m in train["fcn"][ds].items():
            if key.startswith("alpha_"):
                a = key.removeprefix("alpha_")
                assert abs(tables[f"table2/{ds}/fcn/alpha={a}/acc"] - m["test_acc"]) < 1e-4
                assert m["n_seeds"] == len(p["active"]["seeds"])
        hard = cal["fcn"][ds][alpha_key(0.0)]
        assert abs(tables[f"table3/{ds}/fcn/hard/ece"] - hard["test_ece"]) < 2e-5


def test_seeds_of_a_snapshot_keyed_by_other_code_are_refused(toy):
    """New seeds trained with today's code must not be averaged with old seeds of other code."""
    import pytest

    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.seeds import add_seeds
    snap, records = _snapshot(toy)  # its keys are an older code's
    before = (snap / "runs.json").read_bytes()
    with pytest.raises(SnapshotError, match="trained with other code than today's"):
        add_seeds(snap, ["models/classifiers/"], [1], toy / "w2", log=lambda m: None)
    assert (snap / "runs.json").read_bytes() == before


def test_seeds_go_outermost_so_a_cut_leaves_every_setting_at_the_same_count():
    from pipeline.snapshots.seeds import planned
    records = [{"run": f"models/classifiers/fcn/mnist/alpha_{a}_seed_0", "config": {"seed": 0, "teacher": None}}
               for a in ("0", "0.1")]
    got = [(t["run"].split("/")[-1], s) for t, s in planned(records, ["models/classifiers/"], [3, 4])]
    assert got == [("alpha_0.1_seed_0", 3), ("alpha_0_seed_0", 3), ("alpha_0.1_seed_0", 4), ("alpha_0_seed_0", 4)]
    done = records + [{"run": "models/classifiers/fcn/mnist/alpha_0_seed_3", "config": {"seed": 3, "teacher": None}}]
    assert [(t["run"].split("/")[-1], s) for t, s in planned(done, ["models/classifiers/"], [3, 4])][0] == \
        ("alpha_0.1_seed_0", 3)  # what a cut left is trained first


def test_a_students_new_seed_learns_from_its_teacher_at_that_seed(toy):
    """Table 4's seeds: the teacher at seed s is trained and recorded first, and the student at seed s names it
    (its key) and is the run the pipeline would train: the same key as a student trained beside that teacher."""
    import pytest

    from pipeline.snapshots.seeds import add_seeds, planned, seed_name
    from pipeline.training.backend import Job, train_runs
    from pipeline.training.dispatch import CLASSIFIER_TRAINER
    from tests.test_many import BASE, CPU
    from tests.test_rekey import FP32
    snap, records = _current(toy)
    assert seed_name("models/teachers/ls/seed_0", 2) == "models/teachers/ls/seed_2"
    prefixes = ["models/teachers/", "models/students/"]
    assert [(t["run"], s) for t, s in planned(records, prefixes, [1])] == [
        ("models/teachers/ls/seed_0", 1), ("models/students/ls/probabilities_seed_0", 1)]
    with pytest.raises(TypeError):
        planned(records, "models/", [1])
    added = add_seeds(snap, prefixes, [1], toy / "w2", log=lambda m: None)
    teacher, student = added
    assert (teacher["run"], student["run"]) == ("models/teachers/ls/seed_1", "models/students/ls/probabilities_seed_1")
    assert teacher["config"]["seed"] == student["config"]["seed"] == 1
    assert student["config"]["teacher"] == teacher["key"]
    # the same student, trained directly beside its teacher, has the same key and accuracy
    t_cfg = teacher["config"]
    train_runs([Job(toy / "d/t", t_cfg)], CPU, BASE | FP32, CLASSIFIER_TRAINER)
    m = train_runs([Job(toy / "d/s", student["config"], toy / "d/t")], CPU, BASE | FP32, CLASSIFIER_TRAINER)[0]
    assert m["key"] == student["key"] and abs(m["test_acc"] - student["test_acc"]) < 1e-4  # records round
    # its γ: its teacher's smoothness index at its temperature (2) over the training examples, by hand
    from pipeline.data import prepared
    from pipeline.training.run import TEACHER_BATCH, teacher_logits
    data, _ = prepared.load("toy")
    z = teacher_logits(toy / "w2" / teacher["run"], "toy", data["train_x"], CPU, TEACHER_BATCH).double()
    p_true = torch.softmax(z / 2.0, dim=1)[torch.arange(len(z)), data["train_y"]]
    assert abs(student["gamma"] - float((1 - p_true).mean()) * 4 / 3) < 1e-6   # K = 4 classes
    (toy / "w2").rename(toy / "gone")  # a later call without the work folder trains the teacher again
    assert add_seeds(snap, prefixes, [1], toy / "w3", log=lambda m: None) == []


def test_table4_is_refreshed_from_its_records(root):
    """Table 4 of the committed reference snapshot is its records' mean error, n included."""
    from pipeline.config import validate
    from pipeline.snapshots.records import read_provenance, read_records
    from pipeline.snapshots.seeds import table4_summary
    snap = root / "results/reference"
    p = validate(read_provenance(snap / "provenance.json")["params"])
    records = read_records(snap / "runs.json")
    t4 = table4_summary(records, p)
    tables = json.loads((snap / "tables.json").read_text())
    for name in ("dropout", "ls"):
        errs = [100 - r["test_acc"] for r in records if r["run"].startswith(f"models/teachers/{name}/seed_")]
        assert t4[name]["n_seeds"] == len(errs) >= 1
        assert abs(t4[name]["teacher"]["error"] - statistics.mean(errs)) < 1e-4
        assert abs(tables[f"table4/{name}/teacher_error"] - t4[name]["teacher"]["error"]) < 1e-4
        assert abs(tables[f"table4/{name}/student_error"] - t4[name]["student_logits"]["error"]) < 1e-4


def test_figure7_gamma_is_each_seeds_own_once_seed_0_has_it_from_the_tables():
    from pipeline.snapshots.pages import figure7_points
    from pipeline.snapshots.seeds import gammas_from_tables
    rec = lambda run, acc, **k: {"run": run, "config": {"seed": int(run[-1])}, "test_acc": acc, **k}  # noqa: E731
    tables = {"figure7/M3/temperature=2/gamma": 0.04, "figure7/M3/temperature=2/accuracy": 98.7,
              "figure7/M1/alpha=0/gamma": 0.0, "figure7/M1/alpha=0/accuracy": 99.1}
    one = [rec("models/distilled/figure7/m3_T_2_seed_0", 98.7),
           rec("models/sweep_teachers/figure7/alpha_0_seed_0", 99.1)]
    filled = gammas_from_tables(one, tables)
    assert filled[0]["gamma"] == 0.04 and "gamma" not in filled[1]       # M1's γ is its α, from the tables
    assert gammas_from_tables(one + [rec("models/distilled/figure7/m3_T_2_seed_1", 98.9)], tables)[0] == one[0]
    more = filled + [rec("models/distilled/figure7/m3_T_2_seed_1", 98.9, gamma=0.05)]
    pts = {p["curve"].split()[0]: p for p in figure7_points(more, tables)}
    assert pts["M3"]["gamma"] == 0.045 and pts["M3"]["n_seeds"] == 2 and pts["M3"]["accuracy"] == 98.8
    assert pts["M1"]["gamma"] == 0.0 and pts["M1"]["n_seeds"] == 1


def test_refreshing_the_reference_tables_keeps_every_number(root, tmp_path):
    """Recomputing Table 2, 3, 4 and Figure 7 from the committed records gives the committed numbers."""
    from pipeline.snapshots.seeds import refresh_tables
    snap = tmp_path / "reference"
    shutil.copytree(root / "results/reference", snap)
    before = json.loads((snap / "tables.json").read_text())
    refresh_tables(snap)
    after = json.loads((snap / "tables.json").read_text())
    assert after.keys() == before.keys()
    assert all(abs(after[k] - v) < 1e-4 for k, v in before.items() if isinstance(v, (int, float)))
    md = (snap / "tables.md").read_text()
    assert "**ours** (n = " in md and "| curve | teacher α | T | γ | n | test accuracy (%) |" in md


def test_an_interrupted_records_command_is_one_line_and_exit_130(monkeypatch, capsys):
    """Ctrl-C (or SIGTERM, made the same by stop_on_sigterm) in a long tools/records.py command: what finished is
    kept, and the user is told how to go on, in one line."""
    import signal
    import sys

    import pipeline.snapshots.seeds as seeds
    from tools import records

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(seeds, "check_piece_name", interrupted)
    monkeypatch.setattr(sys, "argv", ["records.py", "seeds", "reference", "--prefix", "models/classifiers/",
                                      "--seeds", "5", "--into", "unused"])
    before = signal.getsignal(signal.SIGTERM)
    try:
        code = records.main()
        assert signal.getsignal(signal.SIGTERM) is not before  # SIGTERM now interrupts as Ctrl-C does
    finally:
        signal.signal(signal.SIGTERM, before)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 130 and len(lines) == 1 and lines[0].startswith("interrupted:") and "again" in lines[0]
