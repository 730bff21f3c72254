"""Properties the committed default-profile results must have (a real run, not a toy)."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def calibration(root):
    return json.loads((root / "metrics/calibration.json").read_text())


def test_fitted_temperature_never_worsens_validation_ece(calibration):
    for arch, per_ds in calibration.items():
        for ds, runs in per_ds.items():
            for alpha, m in runs.items():
                assert m["val_ece_ts"] <= m["val_ece"] + 1e-9, (arch, ds, alpha)


def test_every_committed_run_has_calibration_and_accuracy(root, calibration):
    train = json.loads((root / "metrics/train.json").read_text())
    assert set(calibration) == set(train)
    for arch, per_ds in calibration.items():
        for ds, runs in per_ds.items():
            assert set(runs) == {k for k in train[arch][ds] if k.startswith("alpha_")}


def test_committed_mutual_information_lies_within_its_bounds(root):
    mi = json.loads((root / "metrics/mutual_information.json").read_text())
    assert mi["n_examples"] == len(mi["indices"]) == len(set(mi["indices"]))
    for key in (k for k in mi if k.startswith("alpha_")):
        for q in mi[key]["curve"]:
            assert -0.05 <= q["mi"] <= mi["log_n"] + 1e-9, (key, q)
