"""The words and number formats shared by claims.md and the README's claims table."""
from __future__ import annotations

import math

RULE = ("**Verdict rule** (pipeline/formulas/verdict.py). For an effect d = mean(B) − mean(A) over seeds: a Welch t "
        "test when both sides have at least 2 seeds (SE = √(s_A²/n_A + s_B²/n_B), s the sample std with ddof 1, "
        "Welch–Satterthwaite degrees of freedom); where a side has one seed, a t test with a *declared* pooled "
        "std and its degrees of freedom, stated with the claim, or no test at all. Two-sided, 5 %, Holm-corrected "
        "within each claim's family (the comparisons listed under it). *reproduced*: the Holm-adjusted p < 0.05 and "
        "d points the way the claim says; *contradicted*: adjusted p < 0.05 and d points the other way; "
        "*inconclusive*: otherwise, or no test. Each interval is d's t interval at the level Holm tests it at "
        "(0.05 / (m − i + 1) for the i-th smallest of m p-values): a decisive verdict's interval excludes 0. A "
        "claim whose precondition fails is *not applicable*, and its numbers are shown.")
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "emnist": "EMNIST"}


def pm(m: float, s: float, n: int, nd: int = 2) -> str:
    return f"{m:.{nd}f} ± {s:.{nd}f} (n={n})" if n > 1 and math.isfinite(s) else f"{m:.{nd}f} (n={n})"


def interval(c: dict, nd: int = 2) -> str:
    """d's interval at its Holm level, e.g. "[+0.05, +0.19] (98.3 %)"; "no test" without one."""
    if not c.get("interval"):
        return "no test"
    lo, hi = c["interval"]
    return f"[{lo:+.{nd}f}, {hi:+.{nd}f}] ({100 * (1 - c['level']):.3g} %)"


def verdict_cell(c: dict) -> str:
    v = c["verdict"]
    how = {"welch": "", "pooled": ", pooled std", "none": ", no test"}.get(c.get("method", ""), "")
    return f"**{v}**{how}" if v != "inconclusive" else f"{v}{how}"
