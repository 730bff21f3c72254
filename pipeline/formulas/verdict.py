"""The verdict rule of the claims (pipeline/reporting/claims.py): an effect over seeds against twice its
standard error.

For d = mean(B) − mean(A) with SE = √(s_A²/n_A + s_B²/n_B) (s: sample std over seeds):
*reproduced* if d points the way the claim says and |d| > 2·SE, *not reproduced* if it points the other
way and |d| > 2·SE, *inconclusive* otherwise or where no spread exists. Where a side has one seed, a
stand-in std (``proxy_std``) may take the place of its missing one, and the result says so.
"""
from __future__ import annotations

import math
import statistics


def stats(xs: list[float]) -> tuple[float, float, int]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else math.nan), len(xs)


def verdict(d: float, se: float, sign: int) -> str:
    if not math.isfinite(se) or abs(d) <= 2 * se:
        return "inconclusive"
    return "reproduced" if d * sign > 0 else "not reproduced"


def compare(a: list[float], b: list[float], sign: int, proxy_std: float | None = None) -> dict:
    (ma, sa, na), (mb, sb, nb) = stats(a), stats(b)
    borrowed = False
    if (na < 2 or nb < 2) and proxy_std is not None and math.isfinite(proxy_std):
        sa = sa if na > 1 else proxy_std
        sb = sb if nb > 1 else proxy_std
        borrowed = True
    se = math.sqrt(sa ** 2 / na + sb ** 2 / nb) if math.isfinite(sa) and math.isfinite(sb) else math.nan
    return {"a": ma, "a_std": sa, "n_a": na, "b": mb, "b_std": sb, "n_b": nb, "effect": mb - ma, "se": se,
            "verdict": verdict(mb - ma, se, sign), "borrowed_std": borrowed}
