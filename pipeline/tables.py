"""DVC stage `tables`: our numbers beside the papers', as Markdown and flat JSON.

Usage: python -m pipeline.tables
Reads metrics/train.json and writes metrics/tables.md (for people) and
metrics/tables.json (flat keys, for `dvc metrics diff`).
"""
from __future__ import annotations

from .config import alphas_to_train, load_params
from .data import registry
from .io import read_json, write_json, write_text
from .layout import CALIBRATION_METRICS, PROJECTION_METRICS, TABLES_JSON, TABLES_MD, TRAIN_METRICS, alpha_key
from .reference import TABLE2_ACCURACY, TABLE3_ECE
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


def main() -> int:
    p = load_params()
    train = read_json(TRAIN_METRICS)
    t2, f2 = table2(p, train)
    hh, fh = head_to_head(p, train)
    cal = read_json(CALIBRATION_METRICS)
    t3, f3 = table3(p, cal)
    pt, fp = projection_table(p, read_json(PROJECTION_METRICS))
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
    ]) + "\n"
    write_text(TABLES_MD, md)
    write_json(TABLES_JSON, {**f2, **fh, **f3, **fp})
    return 0


if __name__ == "__main__":
    run(main)
