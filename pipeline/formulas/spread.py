"""Aggregation over seeds: the one definition of the "± spread" every table reports."""
from __future__ import annotations

import statistics


def mean_std(values: list[float], ndigits: int) -> tuple[float, float]:
    """Mean and sample standard deviation (n − 1) over seeds, rounded; the std is 0.0 for one seed."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return round(statistics.fmean(values), ndigits), round(std, ndigits)
