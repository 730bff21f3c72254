"""The verdict rule (pipeline/formulas/verdict.py) against hand-worked cases, scipy's own Welch test and the
audit's numbers, and the claims built on it (preconditions, pooled variances, Figure 7's interpolation)."""
from __future__ import annotations

import json
import math

import pytest
from scipy import stats as sps

from pipeline.formulas import verdict as V
from pipeline.reporting.claims import OVERCONFIDENT_MARGIN, claim_calibration, claims, table23_groups
from pipeline.reporting.claims_distillation import claim_figure7


def test_welch_by_hand_and_against_scipys_independent_implementation():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    c = V.compare(a, b, +1)  # d = 3, SE = √(1/3 + 1/3), ν = (2/3)² / (2·(1/3)²/2) = 4
    assert c["effect"] == 3.0 and math.isclose(c["se"], math.sqrt(2 / 3)) and math.isclose(c["df"], 4.0)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert math.isclose(c["p"], ref.pvalue, rel_tol=1e-12) and math.isclose(c["df"], ref.df)
    # t = 3.674 on 4 df lies between the 0.975 (2.776) and 0.99 (3.747) quantiles of the printed t table
    assert 0.02 < c["p"] < 0.05
    a2, b2 = [10.0, 10.4, 9.9, 10.2], [10.9, 10.1]  # unequal n and variances
    c2, ref2 = V.compare(a2, b2, +1), sps.ttest_ind(b2, a2, equal_var=False)
    assert math.isclose(c2["p"], ref2.pvalue, rel_tol=1e-10) and math.isclose(c2["df"], ref2.df)


def test_holm_step_down_by_hand():
    tests = {k: {"p": p, "effect": 1.0, "sign": +1, "se": 0.3, "df": 10.0} for k, p in
             (("x", 0.01), ("y", 0.04), ("z", 0.03))}
    r = V.holm(tests)  # sorted 0.01·3 = 0.03; 0.03·2 = 0.06; max(0.06, 0.04·1) = 0.06
    assert [round(r[k]["p_holm"], 12) for k in "xzy"] == [0.03, 0.06, 0.06]
    assert [r[k]["level"] for k in "xzy"] == [0.05 / 3, 0.05 / 2, 0.05]
    assert [r[k]["verdict"] for k in "xyz"] == ["reproduced", "inconclusive", "inconclusive"]
    # y's own interval at 5 % excludes 0 (p = 0.04), yet Holm stops at z: the verdict stays inconclusive
    assert r["y"]["interval"][0] > 0
    flipped = V.holm({"x": tests["x"] | {"effect": -1.0}})
    assert flipped["x"]["verdict"] == "contradicted" and flipped["x"]["p_holm"] == 0.01


def test_interval_at_the_holm_level():
    r = V.holm({"only": V.compare([0.0, 1.0, 2.0], [3.0, 4.0, 5.0], +1)})["only"]
    half = sps.t.ppf(0.975, 4) * math.sqrt(2 / 3)  # 2.776 · 0.8165
    assert r["interval"] == pytest.approx([3 - half, 3 + half]) and math.isclose(half, 2.2667, abs_tol=1e-3)


def test_single_seeds_need_a_declared_pooled_variance():
    c = V.holm({"k": V.compare([1.0], [2.0], +1)})["k"]
    assert c["verdict"] == "inconclusive" and c["method"] == "none" and c["interval"] is None
    sp = V.Pooled(0.3, 10, "hand")
    c = V.compare([1.0], [2.0], +1, sp)  # SE = 0.3·√2 = 0.4243, t = 2.357 on 10 df: between 2.228 and 2.764
    assert c["method"] == "pooled" and math.isclose(c["se"], 0.3 * math.sqrt(2)) and c["df"] == 10
    assert 0.02 < c["p"] < 0.05 and V.holm({"k": c})["k"]["verdict"] == "reproduced"
    g = V.pooled([[1.0, 2.0, 3.0], [2.0, 4.0], [7.0]], "hand")  # (2·1 + 1·2) / 3
    assert g.df == 3 and math.isclose(g.std, math.sqrt(4 / 3))
    assert V.pooled([[1.0], [2.0]], "hand") is None


def test_overall_reading_of_a_family():
    assert V.overall(["reproduced", "inconclusive"]) == "reproduced"
    assert V.overall(["reproduced", "contradicted"]) == "mixed"
    assert V.overall(["inconclusive"]) == "inconclusive" and V.overall(["contradicted"]) == "contradicted"


def _rec(ds, alpha, seed, acc, ece, gap):
    return {"run": f"models/classifiers/fcn/{ds}/alpha_{alpha:g}_seed_{seed}", "test_acc": acc, "test_ece": ece,
            "test_confidence_gap": gap, "temperature": 1.0, "test_ece_ts": ece / 2,
            "config": {"dataset": ds, "loss": {"kind": "label_smoothing", "alpha": alpha}}}


@pytest.mark.parametrize("gap0, applies", [(OVERCONFIDENT_MARGIN / 2, False), (0.05, True)])
def test_the_calibration_claim_of_muller_needs_an_over_confident_network(gap0, applies):
    recs = [_rec("mnist", 0.0, s, 99.0, 0.05 + 0.001 * s, gap0 + 0.001 * s) for s in range(3)]
    recs += [_rec("mnist", 0.1, s, 99.1, 0.01 + 0.001 * s, -0.01 - 0.001 * s) for s in range(3)]
    _, flat = claim_calibration(table23_groups(recs), 0.1)
    c = flat["calibration/mnist/ls_lowers_ece_of_overconfident"]
    if applies:  # ECE 0.051 → 0.011, identical spreads: p far below 0.05
        assert c["verdict"] == "reproduced" and c["method"] == "welch"
    else:
        assert c["verdict"] == "not applicable" and math.isclose(c["gap"], gap0 + 0.001)


def test_figure7_interpolates_m3_and_carries_its_variance():
    recs = [{"run": f"models/distilled/figure7/{name}_seed_0", "test_acc": acc} for name, acc in
            (("m3_T_1", 98.0), ("m3_T_2", 99.0), ("m4_alpha_0.1", 97.0))]
    tables = {"figure7/M3/temperature=1/gamma": 0.1, "figure7/M3/temperature=2/gamma": 0.3,
              "figure7/M4/alpha=0.1/gamma": 0.2}
    _, flat = claim_figure7(recs, tables, V.Pooled(0.5, 8, "hand"))
    c = flat["figure7/M4/alpha=0.1"]  # M3 at γ = 0.2 is 98.5; Var = 0.25·(0.25 + 0.25 + 1)
    assert math.isclose(c["b"], 98.5) and math.isclose(c["effect"], 1.5)
    assert math.isclose(c["se"], 0.5 * math.sqrt(1.5)) and c["df"] == 8


def test_the_reference_snapshot_gives_the_audits_numbers(root):
    snap = root / "results" / "reference"
    # The audit worked by hand on the snapshot's first three seeds (the two later ones were added after it)
    records = [r for r in json.loads((snap / "runs.json").read_text())
               if not r["run"].startswith("models/classifiers/") or r["config"]["seed"] < 3]
    _, flat = claims(records, json.loads((snap / "tables.json").read_text()),
                     json.loads((snap / "provenance.json").read_text()))
    # The audit (Welch + Holm by hand): MNIST α = 0.1 has p = 0.016 before correction and is inconclusive after;
    # Fashion-MNIST α = 0.1 and 0.15 are inconclusive; the pooled MNIST std is 0.034 over five groups.
    assert round(flat["accuracy/mnist/alpha=0.1"]["p"], 3) == 0.016
    assert flat["accuracy/mnist/alpha=0.1"]["verdict"] == "inconclusive"
    assert {flat[f"accuracy/fashion_mnist/alpha={a}"]["verdict"] for a in ("0.1", "0.15")} == {"inconclusive"}
    assert round(flat["pooled_std_mnist_fcn"]["std"], 3) == 0.034 and flat["pooled_std_mnist_fcn"]["df"] == 10
    assert {flat[f"calibration/{d}/ls_lowers_ece_of_overconfident"]["verdict"] for d in ("mnist", "fashion_mnist")} \
        == {"not applicable"}
