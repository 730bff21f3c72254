"""Figures drawn with matplotlib/seaborn, saved atomically as PNG."""
from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the pipeline's machines
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ..io import _atomic


def save_png(fig, path: Path, dpi: int = 150) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    _atomic(Path(path), lambda p: p.write_bytes(buf.getvalue()))


# Bins holding fewer test examples than this are not drawn: their accuracy is noise (1–3 examples gave
# spikes from 0 to 1). The count is stated on the figure.
MIN_BIN_COUNT = 20


def reliability_figure(panels: dict[str, list[dict]], path: Path, note: str) -> None:
    """One panel per (dataset, model); in each, accuracy against confidence per curve.

    ``panels[title]`` is a list of rows {curve, confidence, accuracy, count}
    (non-empty bins only), as written for `dvc plots`. Marker area shows each
    bin's share of the examples; bins under ``MIN_BIN_COUNT`` examples are hidden.
    ``note`` says which runs the panels show (split, seed).
    """
    sns.set_theme(style="whitegrid", context="paper")
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.9), squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels.items()):
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect calibration")
        total = max(1, sum(r["count"] for r in rows) // len(dict.fromkeys(r["curve"] for r in rows)))
        for color, curve in zip(sns.color_palette(), dict.fromkeys(r["curve"] for r in rows)):
            pts = [r for r in rows if r["curve"] == curve and r["count"] >= MIN_BIN_COUNT]
            x, y = [r["confidence"] for r in pts], [r["accuracy"] for r in pts]
            ax.plot(x, y, lw=1.3, color=color, label=curve)
            # marker area ~ share of examples in the bin: sparse bins are visibly sparse
            ax.scatter(x, y, s=[4 + 200 * r["count"] / total for r in pts], color=color, alpha=0.8, lw=0)
        ax.set(title=title, xlabel="confidence (top label)", ylabel="accuracy", xlim=(0, 1.01),
               ylim=(0, 1.01), aspect="equal")
        ax.legend(loc="lower right", fontsize=7, frameon=True)
    fig.suptitle(f"{note}; bins with fewer than {MIN_BIN_COUNT} examples hidden; marker area ∝ examples in the bin",
                 fontsize=8)
    save_png(fig, path)


def projection_figure(panels: dict[str, tuple[list[dict], list[dict]]], path: Path, note: str) -> None:
    """Figure 2: one row per (dataset, model), one column per panel (α and split).

    ``panels[title] = (points, templates)``; both are rows {panel, x, y, class}.
    Templates are drawn as large stars in their class's colour. The plane's axes are an orthonormal basis
    (pipeline/formulas/template_plane.py), so both axes share one scale: equal aspect. ``note`` states the
    run's seed and the number of examples.
    """
    sns.set_theme(style="white", context="paper")
    titles = list(panels)
    cols = list(dict.fromkeys(r["panel"] for r in panels[titles[0]][0]))
    fig, axes = plt.subplots(len(titles), len(cols), figsize=(3.0 * len(cols), 3.0 * len(titles)),
                             squeeze=False)
    for row, title in zip(axes, titles):
        points, tmpl = panels[title]
        classes = list(dict.fromkeys(r["class"] for r in points))
        colors = dict(zip(classes, sns.color_palette("Set1", len(classes))))
        for ax, col in zip(row, cols):
            for c in classes:
                pts = [r for r in points if r["panel"] == col and r["class"] == c]
                ax.scatter([r["x"] for r in pts], [r["y"] for r in pts], s=6, alpha=0.6, color=colors[c],
                           lw=0, label=c)
                for t in (r for r in tmpl if r["panel"] == col and r["class"] == c):
                    ax.scatter([t["x"]], [t["y"]], s=160, marker="*", color=colors[c], edgecolor="black",
                               lw=0.8, zorder=5)
            ax.set_title(f"{title}\n{col}", fontsize=8)
            ax.set_xlabel("template plane, axis 1", fontsize=7)
            ax.set_ylabel("template plane, axis 2", fontsize=7)
            ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=6)
        row[0].legend(fontsize=6, markerscale=2, loc="best", title="class (★ template)", title_fontsize=6)
    fig.suptitle(note, fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


# Figures 7 and 8: the curve of each method, as the figure's legend and plots/distill/*.json name them.
CURVES = {"M1": "M1 teacher, label smoothing", "M2": "M2 student, label smoothing",
          "M3": "M3 student of hard-label teacher at T", "M4": "M4 student of label-smoothed teacher, T=1"}


def distillation_figure(panels: dict[str, list[dict]], path: Path) -> None:
    """Figures 7 and 8: test accuracy against the smoothness index γ, one curve per method; one panel per figure.

    Error bars (±1 std over seeds) only on points with more than one seed; each panel states the seeds per point
    (its title, from the stage, states β and the profile). The legend sits outside the axes, so it hides no
    point (M1 and M2 at α = 0 sit at γ = 0).
    """
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 3.8), squeeze=False)
    styles = {"M1": ("o", "-"), "M2": ("s", "-"), "M3": ("^", "--"), "M4": ("D", "--")}
    for ax, (title, points) in zip(axes[0], panels.items()):
        ns = sorted({r.get("n_seeds", 1) for r in points})
        for color, curve in zip(sns.color_palette(), dict.fromkeys(r["curve"] for r in points)):
            pts = sorted((r for r in points if r["curve"] == curve), key=lambda r: r["gamma"])
            marker, ls = styles.get(curve.split()[0], ("o", "-"))
            err = [r["accuracy_std"] if r.get("n_seeds", 1) > 1 and r.get("accuracy_std") is not None else 0.0
                   for r in pts]
            ax.errorbar([r["gamma"] for r in pts], [r["accuracy"] for r in pts],
                        yerr=err if any(err) else None, marker=marker, ls=ls, color=color, capsize=3, ms=4,
                        lw=1.3, label=curve, alpha=0.9)
            if curve.startswith("M3"):
                for r in pts:
                    ax.annotate(f"T={r['temperature']:g}", (r["gamma"], r["accuracy"]), fontsize=6,
                                xytext=(3, 3), textcoords="offset points")
        bars = "error bars ±1 std over seeds" if max(ns) > 1 else "no error bars (one seed)"
        ax.set(xlabel="smoothness index γ", ylabel="test accuracy (%)",
               title=f"{title}\n{'/'.join(map(str, ns))} seed(s) per point; {bars}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=True)
    save_png(fig, path)


def mutual_information_figure(rows: list[dict], n: int, title: str, path: Path) -> None:
    """Figure 6: Î (nats) against the training step, one curve per run, with log 2 and log N marked."""
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for color, curve in zip(sns.color_palette(), dict.fromkeys(r["curve"] for r in rows)):
        pts = [r for r in rows if r["curve"] == curve]
        ax.plot([r["step"] for r in pts], [r["mi"] for r in pts], marker="o", ms=3, lw=1.4, color=color, label=curve)
    for y, label in ((math.log(n), f"log N = log {n}"), (math.log(2), "log 2")):
        ax.axhline(y, ls="--", lw=1, color="0.4")
        ax.annotate(label, (0, y), xytext=(2, 3), textcoords="offset points", fontsize=7, color="0.3")
    ax.set(xlabel="optimiser step", ylabel="mutual information Î (nats)", title=title,
           ylim=(0, math.log(n) * 1.08))
    ax.legend(fontsize=7, loc="upper right")
    save_png(fig, path)


def temperature_figure(tokens: list[dict], bleu: list[dict], metrics: dict[str, dict], path: Path) -> None:
    """Figure 5: test BLEU (beam search), token ECE and token NLL against the temperature, one line per α.

    ``tokens``: {curve, temperature, ece, nll}; ``bleu``: {curve, temperature, bleu};
    ``metrics[alpha_key]`` gives the fitted T (dotted) and the greedy BLEU (dashed: greedy
    output cannot depend on T).
    """
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    curves = list(dict.fromkeys(r["curve"] for r in tokens))
    for color, curve, m in zip(sns.color_palette(), curves, metrics.values()):
        for ax, key, rows in zip(axes, ("bleu", "ece", "nll"), (bleu, tokens, tokens)):
            pts = [r for r in rows if r["curve"] == curve]
            ax.plot([r["temperature"] for r in pts], [r[key] for r in pts], marker="o", ms=3, lw=1.4, color=color,
                    label=f"{curve}, T fitted on val = {m['temperature']:.2f}")
            ax.axvline(m["temperature"], ls=":", lw=1, color=color)
        axes[0].axhline(m["bleu_greedy"], ls="--", lw=1, color=color, label=f"{curve}, greedy (any T)")
    for ax, ylabel in zip(axes, ("BLEU (beam search, uncased)", "ECE (test tokens, 15 bins)", "NLL (nats per token)")):
        ax.set(xlabel="temperature T (logits / T)", ylabel=ylabel)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path)


def not_run_figure(message: str, path: Path) -> None:
    """A placeholder PNG that says why a figure was not produced (a declared output must exist)."""
    fig, ax = plt.subplots(figsize=(5.5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=8, wrap=True)
    save_png(fig, path)
