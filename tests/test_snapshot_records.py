"""A snapshot's records carry what recomputing any table or paired test needs: split sizes, per-example test
predictions with their digest, and the count of distinct trainings (pipeline/snapshots/)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from pipeline.io import file_digests, save_tensors, write_json
from pipeline.snapshots.records import SnapshotError, distinct_trainings, read_records
from pipeline.snapshots.writer import add_sizes, collect_runs

RUN = "models/classifiers/fcn/mnist/alpha_0_seed_0"


def _work(tmp_path, cap=None):
    work = tmp_path / "work"
    g = torch.Generator().manual_seed(0)
    save_tensors(work / "data/prepared/mnist.pt", {f"{s}_y": torch.randint(0, 10, (n,), generator=g)
                                                    for s, n in (("train", 300), ("val", 40), ("test", 50))})
    zt, zv = torch.randn(50, 10, generator=g), torch.randn(40, 10, generator=g)
    yt, yv = torch.randint(0, 10, (50,), generator=g), torch.randint(0, 10, (40,), generator=g)
    save_tensors(work / RUN / "logits.pt", {"test_logits": zt, "test_labels": yt, "val_logits": zv, "val_labels": yv})
    acc = 100.0 * (zt.argmax(1) == yt).float().mean().item()
    cfg = {"arch": "fcn", "dataset": "mnist", "max_train_examples": cap, "loss": {"kind": "label_smoothing"}}
    write_json(work / RUN / "metrics.json", {"key": "k" * 16, "config": cfg, "execution": {}, "test_acc": acc,
                                             "test_nll": 2.0, "val_acc": 10.0})
    return work, zt, yt


def test_records_carry_sizes_and_predictions_that_recompute_the_metrics(tmp_path):
    work, zt, yt = _work(tmp_path, cap=200)
    out = tmp_path / "snap"
    (r,) = collect_runs(work, 15, out)
    assert r["sizes"] == {"train": 200, "val": 40, "test": 50}  # the run's subset of 300
    f = out / r["predictions"]["file"]
    assert r["predictions"]["file"] == f"predictions/{RUN}.npz"
    assert file_digests(f)["sha256"] == r["predictions"]["sha256"]
    with np.load(f, allow_pickle=False) as p:
        assert (p["label"] == yt.numpy()).all() and (p["pred"] == zt.argmax(1).numpy()).all()
        assert 100.0 * (p["pred"] == p["label"]).mean() == pytest.approx(r["test_acc"], abs=1e-4)
        probs = zt.double().softmax(1)
        assert np.allclose(p["p_true"], probs[torch.arange(50), yt].numpy(), atol=1e-3)
        assert np.allclose(p["confidence"], probs.max(1).values.numpy(), atol=1e-3)
    write_json(out / "runs.json", [r])
    assert read_records(out / "runs.json") == [r]


@pytest.mark.parametrize("field, value", [("sizes", {"train": -1, "val": 1, "test": 1}), ("sizes", {"train": 1}),
                                          ("predictions", {"file": "predictions/../../x.npz", "sha256": "a" * 64}),
                                          ("predictions", {"file": "/etc/x.npz", "sha256": "a" * 64}),
                                          ("predictions", {"file": "predictions/x.npz", "sha256": "zz"}),
                                          ("run", "models/../../etc"), ("run", "/tmp/x"), ("run", ""),
                                          ("run", "models//x"), ("run", "models/./x")])
def test_malformed_sizes_or_prediction_paths_are_refused(tmp_path, field, value):
    rec = {"run": RUN, "key": "k", "config": {"arch": "fcn"}, "execution": {}, "data_sha256": "ab" * 32, field: value}
    (tmp_path / "runs.json").write_text(json.dumps([rec]))
    with pytest.raises(SnapshotError, match=field):
        read_records(tmp_path / "runs.json")


def test_sizes_are_added_only_from_the_data_file_the_records_name(tmp_path):
    work, _, _ = _work(tmp_path)
    prepared = work / "data/prepared"
    rec = {"run": RUN, "key": "k", "config": {"arch": "fcn", "dataset": "mnist", "max_train_examples": None},
           "execution": {}, "data_sha256": file_digests(prepared / "mnist.pt")["sha256"]}
    snap = tmp_path / "snap"
    write_json(snap / "runs.json", [rec, rec | {"run": RUN + "_copy"}])
    assert add_sizes(snap, prepared) == 2
    assert {json.dumps(r["sizes"]) for r in read_records(snap / "runs.json")} == {
        json.dumps({"test": 50, "train": 300, "val": 40})}
    write_json(snap / "runs.json", [rec | {"data_sha256": "0" * 64}])
    before = (snap / "runs.json").read_bytes()
    with pytest.raises(SnapshotError, match="not the data file"):
        add_sizes(snap, prepared)
    assert (snap / "runs.json").read_bytes() == before


def test_aliases_count_as_one_training(root):
    assert distinct_trainings([{"key": "a"}, {"key": "b"}, {"key": "a"}]) == 2
    records = read_records(root / "results/reference/runs.json")
    by_run = {r["run"]: r for r in records}
    # Table 4's LS teacher at seed s is Table 2's MNIST alpha=0.1 run at seed s, and Figure 7's teachers at alpha
    # 0, 0.15 and 0.3 are Table 2's MNIST runs at their seed: the recipe's aliases, one per such record
    pairs = []
    for r in records:
        if m := re.fullmatch(r"models/teachers/ls/seed_(\d+)", r["run"]):
            pairs.append((r, by_run[f"models/classifiers/fcn/mnist/alpha_0.1_seed_{m[1]}"]))
        if m := re.fullmatch(r"models/sweep_teachers/figure7/alpha_(0|0\.15|0\.3)_seed_(\d+)", r["run"]):
            pairs.append((r, by_run[f"models/classifiers/fcn/mnist/alpha_{m[1]}_seed_{m[2]}"]))
    assert len(pairs) >= 4 and all(a["key"] == b["key"] for a, b in pairs)
    # a probe can be a recorded training too: Figure 7's alpha=0 teacher with the replication's dropout 0.5 is
    # Table 4's dropout teacher
    recorded = {r["key"] for r in records if "probe" not in r}
    probe_aliases = [r for r in records if "probe" in r and r["key"] in recorded]
    assert by_run["models/teachers/dropout/seed_0"]["key"] in {r["key"] for r in probe_aliases}
    assert distinct_trainings(records) == len(records) - len(pairs) - len(probe_aliases)


def test_the_reference_snapshot_recomputes_each_records_accuracy_and_ece_from_its_predictions(root):
    """The committed snapshot alone recomputes its tables: every record's predictions file is the one its digest
    names, and gives back the record's test accuracy and ECE (15 bins, confidence stored at float16)."""
    from pipeline.formulas.reliability import ece
    snap = root / "results" / "reference"
    records = read_records(snap / "runs.json")
    assert [r["run"] for r in records if "predictions" not in r] == []  # every record (tools/records.py predictions)
    for r in records:
        f = snap / r["predictions"]["file"]
        assert file_digests(f)["sha256"] == r["predictions"]["sha256"], r["run"]
        with np.load(f, allow_pickle=False) as p:
            correct = p["pred"] == p["label"]
            assert len(correct) == r["sizes"]["test"], r["run"]
            assert 100.0 * correct.mean() == pytest.approx(r["test_acc"], abs=1e-4), r["run"]
            e = ece(torch.from_numpy(p["confidence"].astype(np.float64)), torch.from_numpy(correct))
            assert e == pytest.approx(r["test_ece"], abs=5e-4), r["run"]  # float16: at most 1.5e-4 seen
