"""Figures drawn with matplotlib/seaborn, saved atomically as PNG."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the pipeline's machines
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from .io import _atomic  # noqa: E402


def save_png(fig, path: Path, dpi: int = 150) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    _atomic(Path(path), lambda p: p.write_bytes(buf.getvalue()))


def reliability_figure(panels: dict[str, list[dict]], path: Path) -> None:
    """One panel per (dataset, model); in each, accuracy against confidence per curve.

    ``panels[title]`` is a list of rows {curve, confidence, accuracy, count}
    (non-empty bins only), as written for `dvc plots`. Marker area shows each
    bin's share of the examples.
    """
    sns.set_theme(style="whitegrid", context="paper")
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels.items()):
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect calibration")
        total = max(1, sum(r["count"] for r in rows) // len(dict.fromkeys(r["curve"] for r in rows)))
        for color, curve in zip(sns.color_palette(), dict.fromkeys(r["curve"] for r in rows)):
            pts = [r for r in rows if r["curve"] == curve]
            x, y = [r["confidence"] for r in pts], [r["accuracy"] for r in pts]
            ax.plot(x, y, lw=1.3, color=color, label=curve)
            # marker area ~ share of examples in the bin: sparse bins are visibly sparse
            ax.scatter(x, y, s=[4 + 200 * r["count"] / total for r in pts], color=color, alpha=0.8, lw=0)
        ax.set(title=title, xlabel="confidence (top label)", ylabel="accuracy", xlim=(0, 1.01),
               ylim=(0, 1.01), aspect="equal")
        ax.legend(loc="lower right", fontsize=7, frameon=True)
    save_png(fig, path)


def projection_figure(panels: dict[str, tuple[list[dict], list[dict]]], path: Path) -> None:
    """Figure 2: one row per (dataset, model), one column per panel (α and split).

    ``panels[title] = (points, templates)``; both are rows {panel, x, y, class}.
    Templates are drawn as large stars in their class's colour.
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
            ax.tick_params(labelsize=6)
        row[0].legend(fontsize=6, markerscale=2, loc="best", title="class (★ template)", title_fontsize=6)
    fig.tight_layout()
    save_png(fig, path)


def distillation_figure(points: list[dict], title: str, path: Path) -> None:
    """Figure 7: test accuracy against the smoothness index γ, one curve per method, ±std bars."""
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    styles = {"M1": ("o", "-"), "M2": ("s", "-"), "M3": ("^", "--"), "M4": ("D", "--")}
    for color, curve in zip(sns.color_palette(), dict.fromkeys(r["curve"] for r in points)):
        pts = sorted((r for r in points if r["curve"] == curve), key=lambda r: r["gamma"])
        marker, ls = styles.get(curve.split()[0], ("o", "-"))
        ax.errorbar([r["gamma"] for r in pts], [r["accuracy"] for r in pts], yerr=[r["accuracy_std"] for r in pts],
                    marker=marker, ls=ls, color=color, capsize=3, ms=4, lw=1.3, label=curve)
        if curve.startswith("M3"):
            for r in pts:
                ax.annotate(f"T={r['temperature']:g}", (r["gamma"], r["accuracy"]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="smoothness index γ", ylabel="test accuracy (%)", title=title)
    ax.legend(fontsize=7, loc="lower left")
    save_png(fig, path)
