"""DVC stage `tables`: our numbers beside the papers', as Markdown and flat JSON.

Usage: python -m pipeline.tables
Reads metrics/train.json and writes metrics/tables.md (for people) and
metrics/tables.json (flat keys, for `dvc metrics diff`).
"""
from __future__ import annotations

from .config import alphas_to_train, load_params
from .data import registry
from .io import read_json, write_json, write_text
from .layout import (
    CALIBRATION_METRICS,
    DISTILL_METRICS,
    DISTILL_PLOTS,
    PROJECTION_METRICS,
    TABLE4_METRICS,
    TABLES_JSON,
    TABLES_MD,
    TRAIN_METRICS,
    alpha_key,
)
from .reference import TABLE2_ACCURACY, TABLE3_ECE, TABLE4_DISTILLATION
from .stage import run


def _fmt(v: float | None, std: float | None = None, nd: int = 2) -> str:
    if v is None:
        return "—"
    return f"{v:.{nd}f}" + (f" ± {std:.{nd}f}" if std else "")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def profile_line(p: dict) -> str:
    b = p["budget"]
    subset = f", first {b['max_train_examples']} training examples" if b["max_train_examples"] else ""
    return (f"Ours: profile `{p['profile']}` — FCN {b['fcn_epochs']} epochs, seeds {b['seeds']}{subset}; "
            f"{p['data']['val_size']} examples of each official training split held out for validation; "
            f"accuracy on the official test split, mean ± std over seeds.")


def table2(p: dict, train: dict) -> tuple[str, dict]:
    alphas = alphas_to_train(p)
    flat: dict[str, float] = {}
    rows = []
    for ds in p["budget"]["datasets"]:
        title = registry.get(ds).title
        for source, ref in TABLE2_ACCURACY.items():
            vals = ref.get((ds, "fcn"))
            if vals:
                rows.append([title, "FCN", source] + [_fmt(vals.get(a)) for a in alphas])
        ours = [train[ds][f"alpha_{a:g}"] for a in alphas]
        rows.append([title, "FCN", "**ours**"] + [_fmt(m["test_acc"], m["test_acc_std"]) for m in ours])
        for a, m in zip(alphas, ours):
            key = f"table2/{ds}/fcn/alpha={a:g}"
            flat[f"{key}/acc"] = m["test_acc"]
            ref = TABLE2_ACCURACY["replication"].get((ds, "fcn"), {}).get(a)
            if ref is not None:
                flat[f"{key}/minus_replication"] = round(m["test_acc"] - ref, 4)
    text = md_table(["dataset", "model", "source"] + [f"α={a:g}" for a in alphas], rows)
    return text, flat


def head_to_head(p: dict, train: dict) -> tuple[str, dict]:
    rows, flat = [], {}
    for ds in p["budget"]["datasets"]:
        h = train[ds]["head_to_head"]
        rows.append([registry.get(ds).title, "FCN", _fmt(h["hard_test_acc"]), _fmt(h["ls_test_acc"]),
                     f"{h['delta']:+.2f}"])
        flat[f"head_to_head/{ds}/fcn/delta"] = h["delta"]
    return md_table(["dataset", "model", "hard labels", f"α={p['alpha']:g}", "Δ"], rows), flat


def _ece(v: float | None, std: float | None = None) -> str:
    return _fmt(v, std, nd=3)


def table3(p: dict, cal: dict) -> tuple[str, dict]:
    """Table 3 as the replication lays it out: hard labels (ECE after T-scaling, T, ECE at T=1)
    and ECE at T=1 for each α of the sweep."""
    sweep = [a for a in alphas_to_train(p) if a > 0]
    rows, flat = [], {}
    for ds in p["budget"]["datasets"]:
        title = registry.get(ds).title
        for source, ref in TABLE3_ECE.items():
            r = ref.get((ds, "fcn"))
            if r:
                rows.append([title, "FCN", source, _ece(r["ts"][0]), f"{r['ts'][1]:g}", _ece(r["hard"])]
                            + [_ece(r["ls"].get(a)) for a in sweep])
        hard = cal[ds][alpha_key(0.0)]
        rows.append([title, "FCN", "**ours**", _ece(hard["test_ece_ts"], hard.get("test_ece_ts_std")),
                     f"{hard['temperature']:.2f}", _ece(hard["test_ece"], hard.get("test_ece_std"))]
                    + [_ece(cal[ds][alpha_key(a)]["test_ece"], cal[ds][alpha_key(a)].get("test_ece_std"))
                       for a in sweep])
        key = f"table3/{ds}/fcn"
        flat[f"{key}/hard/ece"] = hard["test_ece"]
        flat[f"{key}/hard/temperature"] = hard["temperature"]
        flat[f"{key}/hard/ece_ts"] = hard["test_ece_ts"]
        for a in sweep:
            flat[f"{key}/alpha={a:g}/ece"] = cal[ds][alpha_key(a)]["test_ece"]
    header = (["dataset", "model", "source", "α=0, T fitted: ECE", "T", "α=0, T=1: ECE"]
              + [f"α={a:g}, T=1: ECE" for a in sweep])
    return md_table(header, rows), flat


def calibration_detail(p: dict, cal: dict) -> str:
    """Every run's calibration numbers, with the validation-split check."""
    rows = []
    for ds in p["budget"]["datasets"]:
        for a in alphas_to_train(p):
            m = cal[ds][alpha_key(a)]
            rows.append([registry.get(ds).title, f"{a:g}", _ece(m["test_ece"]), f"{m['temperature']:.3f}",
                         _ece(m["test_ece_ts"]), f"{m['temperature_ece_grid']:.2f}", _ece(m["test_ece_at_grid_t"]),
                         _ece(m["val_ece"]), _ece(m["val_ece_ts"]), f"{m['test_nll']:.4f}", f"{m['test_nll_ts']:.4f}"])
    return md_table(["dataset", "α", "test ECE (T=1)", "T (NLL fit, val)", "test ECE (fitted T)",
                     "T (ECE grid, val)", "test ECE (grid T)", "val ECE (T=1)", "val ECE (fitted T)",
                     "test NLL (T=1)", "test NLL (fitted T)"], rows)


def projection_table(p: dict, proj: dict) -> tuple[str, dict]:
    """Figure 2's claim in numbers: tighter, more equidistant clusters with label smoothing."""
    rows, flat = [], {}
    for ds, per_alpha in proj.items():
        for key, splits in per_alpha.items():
            if not key.startswith("alpha_"):
                continue
            for split, m in splits.items():
                rows.append([registry.get(ds).title, "FCN", key.removeprefix("alpha_"), split,
                             f"{m['tightness']:.3f}", f"{m['equidistance']:.3f}", f"{m['separation']:.2f}"])
                for name in ("tightness", "equidistance"):
                    flat[f"projection/{ds}/fcn/{key.replace('_', '=')}/{split}/{name}"] = m[name]
    return md_table(["dataset", "model", "α", "examples", "tightness ↓", "equidistance ↓",
                     "separation (scale)"], rows), flat


TABLE4_NAMES = {"dropout": "dropout", "ls": "label_smoothing"}


def table4(p: dict) -> tuple[str, dict]:
    """Teacher and student test error (%), ours beside Müller's and the replication's."""
    t4 = p["distill"]["table4"]
    rows, flat = [], {}
    for name, t in t4["teachers"].items():
        ref_key = TABLE4_NAMES.get(name)
        label = f"{name} (dropout {t['dropout']:g}, α={t['alpha']:g})"
        for source, ref in TABLE4_DISTILLATION.items():
            if ref_key in ref:
                rows.append([label, source, f"{ref[ref_key][0]:.2f}", f"{ref[ref_key][1]:.2f}", "—"])
        m = read_json(TABLE4_METRICS / f"{name}.json")
        main, other = f"student_{t4['regress_on']}", "student_probabilities"
        rows.append([label, "**ours**", _fmt(m["teacher"]["error"], m["teacher"]["error_std"]),
                     _fmt(m[main]["error"], m[main]["error_std"]),
                     _fmt(m[other]["error"], m[other]["error_std"]) if other in m and other != main else "—"])
        flat[f"table4/{name}/teacher_error"] = m["teacher"]["error"]
        flat[f"table4/{name}/student_error"] = m[main]["error"]
        if other in m and other != main:
            flat[f"table4/{name}/student_error_probability_targets"] = m[other]["error"]
    return md_table(["teacher", "source", "teacher error", f"student error (regress on {t4['regress_on']})",
                     "student error (regress on teacher probabilities: the replication's defect)"], rows), flat


def figure7_table() -> tuple[str, dict]:
    pts = read_json(DISTILL_PLOTS / "figure7.json")
    rows = [[r["curve"], f"{r['alpha']:g}" if "alpha" in r else "—",
             f"{r['temperature']:g}" if "temperature" in r else "—", f"{r['gamma']:.3f}",
             _fmt(r["accuracy"], r["accuracy_std"])] for r in pts]
    flat = {f"figure7/{k}/{f}": v[f] for k, v in read_json(DISTILL_METRICS).items() for f in ("gamma", "accuracy")}
    return md_table(["curve", "teacher α", "T", "γ", "test accuracy (%)"], rows), flat


def t4_loss(p: dict) -> str:
    w = p["distill"]["table4"]["ce_weight"]
    return f"{w:g}·CE + {1 - w:g}·½·squared error between student and teacher logits"


def main() -> int:
    p = load_params()
    train = read_json(TRAIN_METRICS)
    t2, f2 = table2(p, train)
    hh, fh = head_to_head(p, train)
    cal = read_json(CALIBRATION_METRICS)
    t3, f3 = table3(p, cal)
    pt, fp = projection_table(p, read_json(PROJECTION_METRICS))
    t4, f4 = table4(p)
    f7, ff7 = figure7_table()
    d = p["distill"]
    md = "\n\n".join([
        "# Results",
        profile_line(p),
        "## Table 2 — test accuracy (%) with label smoothing",
        "Müller et al. report no FCN rows in Table 2; `replication` is Wagner et al. (2023), "
        "trained on all 60k training images for 100 epochs, one seed.",
        t2,
        f"## Head-to-head: hard labels against α = {p['alpha']:g}",
        hh,
        "## Table 3 — expected calibration error (15 bins, test split)",
        "T is fitted by NLL on the validation split (never on the test split); the replication chose "
        "T by test-set ECE. Müller et al. report no FCN rows in Table 3.",
        t3,
        "### Calibration of every run",
        "`T (ECE grid, val)` is the grid temperature with the lowest validation ECE, reported beside the "
        "NLL fit. Validation ECE after the fit is the check that the fit helped on the data it saw.",
        calibration_detail(p, cal),
        "Reliability diagrams: `plots/figures/reliability.png`, and `dvc plots show` (plots/reliability/).",
        "## Figure 2 — penultimate-layer clusters",
        "Projection onto the plane of the three class templates (bias included), 100 examples per class. "
        "tightness = mean RMS distance to the class centroid / mean centroid distance; equidistance = "
        "std / mean of the three centroid distances (0 = equilateral). Müller's claim: label smoothing "
        "lowers both. Figure: `plots/figures/projection.png`.",
        pt,
        "## Table 4 — distillation on MNIST, test error (%)",
        f"Teachers FCN {d['teacher_hidden']} with ±{d['teacher_max_shift']} px shifts; students FCN "
        f"{d['student_hidden']} without augmentation or dropout, loss {t4_loss(p)}. Müller's and the "
        "replication's networks trained far longer than the default profile.",
        t4,
        "## Figure 7 — accuracy against the smoothness index γ (MNIST)",
        f"M3/M4 use (1−β)·H(y, q) + β·H(p_teacher(T), q) with β = {d['figure7']['beta']:g}; γ of M3/M4 is "
        "the teacher's smoothness index at T over the training set. Figure: `plots/figures/distillation.png`.",
        f7,
    ]) + "\n"
    write_text(TABLES_MD, md)
    write_json(TABLES_JSON, {**f2, **fh, **f3, **fp, **f4, **ff7})
    return 0


if __name__ == "__main__":
    run(main)
