"""The verdict rule of the claims (pipeline/reporting/claims.py): t tests, two-sided at 5 %, Holm within a family.

One comparison: d = mean(B) − mean(A) over seeds (s: sample std, ddof 1).

- **Welch**, when both sides have n ≥ 2: SE = √(s_A²/n_A + s_B²/n_B), degrees of freedom by
  Welch–Satterthwaite, ν = SE⁴ / Σ_i (s_i²/n_i)² / (n_i − 1).
- **Declared pooled variance**, when a side has n = 1 and the claim declares one (``Pooled``: a std s_p
  estimated on other groups of the same kind of run, with ν_p = Σ (n_g − 1) degrees of freedom):
  SE = s_p·√(1/n_A + 1/n_B), ν = ν_p. The interval then rests on that declared assumption.
- Otherwise (n = 1 without a declared variance, or no spread at all): no test; *inconclusive*.

p = 2·P(T_ν > |d|/SE). Within a family of m tests, Holm's step-down: sort the p-values ascending; the i-th
is tested at level 0.05/(m − i + 1) and the adjusted p-value is max_{j ≤ i} min(1, (m − j + 1)·p_(j)).
*reproduced* if the adjusted p < 0.05 and d points the way the claim says, *contradicted* if the adjusted
p < 0.05 and d points the other way, *inconclusive* otherwise. Each comparison reports the interval
d ± t_{ν}(1 − a/2)·SE at its Holm level a: a decisive verdict's interval excludes 0.
A claim whose precondition fails is *not applicable* (``not_applicable``), never tested.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats as _t

ALPHA = 0.05
REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_APPLICABLE = ("reproduced", "contradicted", "inconclusive",
                                                       "not applicable")


@dataclass(frozen=True)
class Pooled:
    """A declared pooled std: ``std`` on ``df`` degrees of freedom, estimated from ``source``."""
    std: float
    df: int
    source: str


def stats(xs: list[float]) -> tuple[float, float, int]:
    """(mean, sample std with ddof 1 — NaN for one value, n)."""
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else math.nan), len(xs)


def pooled(groups: list[list[float]], source: str) -> Pooled | None:
    """s_p² = Σ (n_g − 1)·s_g² / Σ (n_g − 1) over the groups with n_g ≥ 2; None without any."""
    used = [g for g in groups if len(g) > 1]
    df = sum(len(g) - 1 for g in used)
    if df == 0:
        return None
    return Pooled(math.sqrt(sum((len(g) - 1) * statistics.variance(g) for g in used) / df), df, source)


def welch_df(sa: float, na: int, sb: float, nb: int) -> float:
    va, vb = sa ** 2 / na, sb ** 2 / nb
    if va + vb == 0:
        return math.nan
    return (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))


def compare(a: list[float], b: list[float], sign: int, declared: Pooled | None = None, *,
            var_factor: float | None = None) -> dict:
    """One comparison, not yet corrected for its family (``holm`` adds the verdict).

    ``var_factor`` replaces 1/n_A + 1/n_B under a pooled variance, for a B that is a known linear
    combination of runs (Figure 7's interpolation): Var(d) = var_factor·s_p².
    """
    (ma, sa, na), (mb, sb, nb) = stats(a), stats(b)
    d = mb - ma
    out = {"a": ma, "a_std": sa, "n_a": na, "b": mb, "b_std": sb, "n_b": nb, "effect": d, "sign": sign}
    if na > 1 and nb > 1 and var_factor is None:
        se, df, method = math.sqrt(sa ** 2 / na + sb ** 2 / nb), welch_df(sa, na, sb, nb), "welch"
    elif declared is not None:
        f = var_factor if var_factor is not None else 1 / na + 1 / nb
        se, df, method = declared.std * math.sqrt(f), float(declared.df), "pooled"
    else:
        se, df, method = math.nan, math.nan, "none"
    if not (math.isfinite(se) and se > 0 and math.isfinite(df)):
        return out | {"se": None, "df": None, "p": None, "method": method}
    p = 2 * _t.t.sf(abs(d) / se, df)
    return out | {"se": se, "df": df, "p": float(p), "method": method}


def holm(tests: dict[str, dict], alpha: float = ALPHA) -> dict[str, dict]:
    """The family's tests with Holm-adjusted p, their Holm level, interval and verdict (see the module doc)."""
    ranked = sorted((k for k, c in tests.items() if c["p"] is not None), key=lambda k: tests[k]["p"])
    m, running, out = len(ranked), 0.0, {}
    for i, k in enumerate(ranked):
        c = tests[k]
        running = max(running, min(1.0, (m - i) * c["p"]))
        level = alpha / (m - i)
        half = _t.t.ppf(1 - level / 2, c["df"]) * c["se"]
        decisive = running < alpha
        v = (REPRODUCED if c["effect"] * c["sign"] > 0 else CONTRADICTED) if decisive else INCONCLUSIVE
        out[k] = c | {"p_holm": running, "level": level, "family_size": m,
                      "interval": [c["effect"] - half, c["effect"] + half], "verdict": v}
    for k, c in tests.items():
        if k not in out:
            out[k] = c | {"p_holm": None, "level": None, "family_size": m, "interval": None, "verdict": INCONCLUSIVE}
    return out


def not_applicable(why: str, **numbers) -> dict:
    return {"verdict": NOT_APPLICABLE, "why": why} | numbers


def overall(verdicts: list[str]) -> str:
    """A family read as one claim: reproduced if some test is and none contradicts; contradicted the other
    way round; mixed if both occur; inconclusive if no test is decisive."""
    r, c = REPRODUCED in verdicts, CONTRADICTED in verdicts
    return "mixed" if r and c else REPRODUCED if r else CONTRADICTED if c else INCONCLUSIVE
