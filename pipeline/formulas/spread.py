"""Aggregation over seeds: the one definition of the "± spread" every table reports."""
from __future__ import annotations

import statistics


def mean_std(values: list[float], ndigits: int) -> tuple[float, float]:
    """Mean and sample standard deviation (n − 1) over seeds, rounded; the std is 0.0 for one seed."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return round(statistics.fmean(values), ndigits), round(std, ndigits)


def test_error(runs: list[dict]) -> dict:
    """Table 4's cell: mean and sample std over seeds of the test error in %, from runs' ``test_acc``."""
    err, std = mean_std([100 - r["test_acc"] for r in runs], 4)
    return {"error": err, "error_std": std}
