"""The lines `make demo` ends with, from known metrics."""
from __future__ import annotations

import json

from pipeline.reporting.summary import summary


def test_summary_gives_each_head_to_head_row_and_where_the_outputs_are(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "plots/figures").mkdir(parents=True)
    (tmp_path / "plots/figures/projection.png").write_bytes(b"")
    (tmp_path / "data/prepared").mkdir(parents=True)
    (tmp_path / "data/prepared/cifar10.json").write_text(json.dumps({"title": "CIFAR-10 (lossy JPEG stand-in)"}))
    (tmp_path / "metrics/train.json").write_text(json.dumps({
        "fcn": {"mnist": {"head_to_head": {"alpha": 0.1, "hard_test_acc": 98.5, "ls_test_acc": 98.75}}},
        "alexnet": {"cifar10": {"head_to_head": {"alpha": 0.1, "hard_test_acc": 30.0, "ls_test_acc": 31.0}}}}))
    (tmp_path / "metrics/calibration.json").write_text(json.dumps(
        {"fcn": {"mnist": {"alpha_0": {"test_ece": 0.01}, "alpha_0.1": {"test_ece": 0.1}}}}))
    (tmp_path / "metrics/translation.json").write_text(json.dumps({
        k: {"bleu_beam": b, "signature": "nrefs:1|case:lc", "test_nll": n, "test_ece": e}
        for k, b, n, e in [("alpha_0", 20.0, 2.0, 0.05), ("alpha_0.1", 21.0, 2.5, 0.04)]}))
    s = summary(tmp_path)
    assert "| fcn | MNIST | 0.1 | 98.50 → 98.75 % | 0.010 → 0.100 |" in s
    assert "| alexnet | CIFAR-10 (lossy JPEG stand-in) | 0.1 | 30.00 → 31.00 % | n/a |" in s
    assert "BLEU 20.00 → 21.00 (sacrebleu nrefs:1|case:lc), NLL 2.000 → 2.500, ECE 0.050 → 0.040" in s
    assert "metrics/tables.md" in s and "plots/figures/projection.png" in s and len(s.splitlines()) < 15
