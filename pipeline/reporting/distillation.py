"""The distillation part of metrics/tables.md: Table 4, and Figures 7 and 8 in numbers."""
from __future__ import annotations

from pathlib import Path

from ..config import distill_figures
from ..data import naming
from ..io import read_json
from ..layout import DISTILL_METRICS, DISTILL_PLOTS, TABLE4_METRICS
from ..models import title
from .markdown import fmt as _fmt
from .markdown import md_table
from .reference import TABLE4_DISTILLATION

TABLE4_NAMES = {"dropout": "dropout", "ls": "label_smoothing"}


def table4(p: dict, metrics: dict | None = None, root: Path = Path(".")) -> tuple[str, dict]:
    """Teacher and student test error (%), ours (the student stage's metrics, or ``metrics`` by teacher name)
    beside Müller's and the replication's."""
    t4 = p["distill"]["table4"]
    rows, flat = [], {}
    for name, t in t4["teachers"].items():
        ref_key = TABLE4_NAMES.get(name)
        label = f"{name} (dropout {t['dropout']:g}, α={t['alpha']:g})"
        for source, ref in TABLE4_DISTILLATION.items():
            if ref_key in ref:
                rows.append([label, source, f"{ref[ref_key][0]:.2f}", f"{ref[ref_key][1]:.2f}", "—"])
        m = metrics[name] if metrics is not None else read_json(root / TABLE4_METRICS / f"{name}.json")
        main, other = f"student_{t4['regress_on']}", "student_probabilities"
        rows.append([label, f"**ours** (n = {m['n_seeds']})", _fmt(m["teacher"]["error"], m["teacher"]["error_std"]),
                     _fmt(m[main]["error"], m[main]["error_std"]),
                     _fmt(m[other]["error"], m[other]["error_std"]) if other in m and other != main else "—"])
        flat[f"table4/{name}/teacher_error"] = m["teacher"]["error"]
        flat[f"table4/{name}/student_error"] = m[main]["error"]
        if other in m and other != main:
            flat[f"table4/{name}/student_error_probability_targets"] = m[other]["error"]
    return md_table(["teacher", "source", "teacher error", f"student error (regress on {t4['regress_on']})",
                     "student error (regress on teacher probabilities: the replication's defect)"], rows), flat


def distill_tables(p: dict, root: Path = Path(".")) -> tuple[str, dict]:
    """Figures 7 and 8 in numbers, one table per figure the profile ran (metrics and plots under ``root``)."""
    text, flat = [], {}
    for figure, setup in distill_figures(p).items():
        pts = read_json(root / DISTILL_PLOTS / f"{figure}.json")
        text.append(f"## {figure[:6].capitalize()} {figure[6:]} — accuracy against the smoothness index γ "
                    f"({title(setup['teacher'])} → {title(setup['student'])} on {naming.title(setup['dataset'])})\n\n"
                    f"M3/M4 use (1−β)·H(y, q) + β·H(p_teacher(T), q) with β = {setup['beta']:g}; γ of M3/M4 is "
                    "the teacher's smoothness index at T over the training set. "
                    "Figure: `plots/figures/distillation.png`.\n\n"
                    + points_table(pts))
        metrics = read_json(root / DISTILL_METRICS)[figure]
        flat |= {f"{figure}/{k}/{f}": v[f] for k, v in metrics.items() for f in ("gamma", "accuracy")}
    if "figure8" not in distill_figures(p):
        text.append("## Figure 8 — not run in this profile\n\nSet `profiles.<profile>.figure8_dataset` "
                    "(the `paper` profiles do): ResNet-56 teachers and AlexNet students on CIFAR-10.")
    return "\n\n".join(text), flat


def t4_loss(p: dict) -> str:
    w = p["distill"]["table4"]["ce_weight"]
    return f"{w:g}·CE + {1 - w:g}·½·squared error between student and teacher logits"


def points_table(points: list[dict]) -> str:
    """A distillation figure's points as a table: curve, setting, γ, accuracy ± std over its n seeds; each curve
    in the order of its setting (α or T, as numbers)."""
    points = sorted(points, key=lambda r: (r["curve"], r.get("alpha") if r.get("alpha") is not None
                                           else r.get("temperature") or 0.0))
    rows = [[r["curve"], f"{r['alpha']:g}" if r.get("alpha") is not None else "—",
             f"{r['temperature']:g}" if r.get("temperature") is not None else "—", f"{r['gamma']:.3f}",
             str(r.get("n_seeds", 1)), _fmt(r["accuracy"], r["accuracy_std"])] for r in points]
    return md_table(["curve", "teacher α", "T", "γ", "n", "test accuracy (%)"], rows)


def points_metrics(figure: str, points: list[dict]) -> dict:
    """The flat metrics of a figure's points: <figure>/<curve>/<setting>/{gamma,accuracy}."""
    out = {}
    for r in points:
        setting = "alpha" if r.get("alpha") is not None else "temperature"
        k = f"{figure}/{r['curve'].split()[0]}/{setting}={r[setting]:g}"
        out |= {f"{k}/gamma": r["gamma"], f"{k}/accuracy": r["accuracy"]}
    return out
