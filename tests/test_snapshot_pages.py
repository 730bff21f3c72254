"""A snapshot describes itself: tables.md links its own figures, figures not made at scale say so, and
Figure 7 can be redrawn from the snapshot alone (pipeline/snapshots/pages.py)."""
from __future__ import annotations

import pytest

from pipeline.reporting.paper_tables import DEFAULT_ONLY
from pipeline.snapshots.pages import figure7_points, figures_at_scale, own_tables, replace_unscaled


def test_tables_link_the_snapshots_own_figures_and_mark_those_not_at_scale():
    md = ("Figure: `plots/figures/projection.png`. Figure 5: `plots/figures/translation_temperature.png`."
          + DEFAULT_ONLY)
    out = own_tables(md, "reference", ("projection",))
    assert "[`figures/projection.png`](figures/projection.png)." in out
    assert ("[`figures/translation_temperature.png`](figures/translation_temperature.png) (not run at this scale "
            "in the `reference` snapshot)") in out
    assert "plots/figures" not in out and DEFAULT_ONLY not in out
    assert DEFAULT_ONLY in own_tables(md, "default", ("projection",))  # true of the default profile


def test_figures_not_made_at_scale_are_replaced_and_unknown_names_refused(tmp_path):
    for name in ("projection", "mutual_information"):
        (tmp_path / f"{name}.png").write_bytes(b"old")
    assert replace_unscaled(tmp_path, "reference", ("projection",)) == ["mutual_information"]
    assert (tmp_path / "projection.png").read_bytes() == b"old"
    assert (tmp_path / "mutual_information.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="unknown figure"):
        figures_at_scale({"figures_at_scale": ["projection", "figure9"]})


def test_figure7_points_come_from_the_records_with_their_seed_count():
    recs = [{"run": f"models/distilled/figure7/m3_T_2_seed_{s}", "test_acc": a} for s, a in ((0, 98.0), (1, 98.4))]
    recs += [{"run": "models/sweep_teachers/figure7/alpha_0.1_seed_0", "test_acc": 99.0},
             {"run": "models/classifiers/fcn/mnist/alpha_0.1_seed_0", "test_acc": 1.0}]
    tables = {"figure7/M3/temperature=2/gamma": 0.04, "figure7/M1/alpha=0.1/gamma": 0.1,
              "figure7/M4/alpha=0.3/gamma": 0.3, "figure7/M3/temperature=2/accuracy": 98.2}
    pts = {(p["curve"].split()[0], p["alpha"], p["temperature"]): p for p in figure7_points(recs, tables)}
    assert set(pts) == {("M3", None, 2.0), ("M1", 0.1, None)}  # M4 has no run in the records
    m3 = pts[("M3", None, 2.0)]
    assert m3["n_seeds"] == 2 and m3["accuracy"] == pytest.approx(98.2) and m3["gamma"] == 0.04
    assert m3["accuracy_std"] == pytest.approx(0.2828, abs=1e-4) and pts[("M1", 0.1, None)]["n_seeds"] == 1


def test_a_figures_points_table_lists_each_curve_in_numeric_order_of_its_setting():
    from pipeline.reporting.distillation import points_table
    pts = [{"curve": "M3 student", "temperature": t, "gamma": 0.1, "accuracy": 98.0, "accuracy_std": None}
           for t in (1.0, 12.0, 16.0, 2.0, 3.0)]
    pts += [{"curve": "M1 teacher", "alpha": a, "gamma": a, "accuracy": 99.0, "accuracy_std": None} for a in (0.3, 0.0)]
    rows = [line.split(" | ")[1:3] for line in points_table(pts).splitlines()[2:]]
    assert rows == [["0", "—"], ["0.3", "—"]] + [["—", t] for t in ("1", "2", "3", "12", "16")]
