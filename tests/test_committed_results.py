"""Properties the committed default-profile results must have (a real run, not a toy)."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def calibration(root):
    return json.loads((root / "metrics/calibration.json").read_text())


def test_fitted_temperature_never_worsens_validation_ece(calibration):
    for ds, runs in calibration.items():
        for alpha, m in runs.items():
            assert m["val_ece_ts"] <= m["val_ece"] + 1e-9, (ds, alpha)


def test_every_committed_run_has_calibration_and_accuracy(root, calibration):
    train = json.loads((root / "metrics/train.json").read_text())
    for ds, runs in calibration.items():
        assert set(runs) == {k for k in train[ds] if k.startswith("alpha_")}
