"""DVC stage `tables`: our numbers beside the papers', as Markdown and flat JSON.

Usage: python -m pipeline.tables
Reads metrics/train.json and writes metrics/tables.md (for people) and
metrics/tables.json (flat keys, for `dvc metrics diff`).
"""
from __future__ import annotations

from .config import alphas_to_train, load_params
from .data import registry
from .io import read_json, write_json, write_text
from .layout import TABLES_JSON, TABLES_MD, TRAIN_METRICS
from .reference import TABLE2_ACCURACY
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


def main() -> int:
    p = load_params()
    train = read_json(TRAIN_METRICS)
    t2, f2 = table2(p, train)
    hh, fh = head_to_head(p, train)
    md = "\n\n".join([
        "# Results",
        profile_line(p),
        "## Table 2 — test accuracy (%) with label smoothing",
        "Müller et al. report no FCN rows in Table 2; `replication` is Wagner et al. (2023), "
        "trained on all 60k training images for 100 epochs, one seed.",
        t2,
        f"## Head-to-head: hard labels against α = {p['alpha']:g}",
        hh,
    ]) + "\n"
    write_text(TABLES_MD, md)
    write_json(TABLES_JSON, {**f2, **fh})
    return 0


if __name__ == "__main__":
    run(main)
