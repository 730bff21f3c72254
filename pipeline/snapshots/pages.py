"""What a snapshot shows of itself: tables.md linking the snapshot's own figures, and figures only at scale.

The pipeline's tables.md is written for the work tree (figures under ``plots/figures/``); a snapshot keeps
its figures in ``results/<profile>/figures/``, so its tables.md links those. A plan names the figures its
profile makes at the scale it states (``figures_at_scale``); every other figure of the snapshot is replaced
by a picture that says "not run at this scale", and its link says so too: the reference profile trains the
papers' FCNs, while its Transformer and mutual-information figures come from the default's small models.
"""
from __future__ import annotations

import re
from pathlib import Path

FIGURES = ("reliability", "projection", "distillation", "mutual_information", "translation_temperature",
           "translation_reliability")
_LINK = re.compile(r"`plots/figures/([a-z_]+)\.png`")


def figures_at_scale(plan: dict) -> tuple[str, ...]:
    names = tuple(plan.get("figures_at_scale", FIGURES))
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"figures_at_scale: unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    return names


def own_tables(md: str, profile: str, at_scale: tuple[str, ...]) -> str:
    """``md`` with each figure link pointing into the snapshot, marked where the figure was not run at scale."""
    def link(m: re.Match) -> str:
        name = m.group(1)
        text = f"[`figures/{name}.png`](figures/{name}.png)"
        return text if name in at_scale else f"{text} (not run at this scale in the `{profile}` snapshot)"
    from ..reporting.paper_tables import DEFAULT_ONLY
    return _LINK.sub(link, md if profile == "default" else md.replace(DEFAULT_ONLY, ""))


def replace_unscaled(figures: Path, profile: str, at_scale: tuple[str, ...]) -> list[str]:
    """Overwrite the snapshot's figures that its profile does not make at scale; the names replaced."""
    from ..reporting.figures import not_run_figure
    done = []
    for name in FIGURES:
        png = figures / f"{name}.png"
        if name not in at_scale and png.exists():
            not_run_figure(f"{name}: not run at this scale in the `{profile}` snapshot (its plan.yaml lists the "
                           "figures made at the profile's stated scale under figures_at_scale)", png)
            done.append(name)
    return done


def figure7_points(records: list[dict], tables: dict) -> list[dict]:
    """Figure 7's points from a snapshot alone: γ from the records where each M3/M4 student has its own (else
    tables.json: M1/M2's γ is α), accuracies per seed from the records
    (the run folders name the point: sweep_teachers/figure7/alpha_A, distilled/figure7/{m2_alpha_A, m3_T_T,
    m4_alpha_A})."""
    from ..formulas.spread import mean_std
    from ..reporting.figures import CURVES
    accs: dict[str, list[float]] = {}
    gammas: dict[str, list[float | None]] = {}
    for r in records:
        parts = r["run"].split("/")
        if len(parts) == 4 and parts[2] == "figure7" and parts[1] in ("sweep_teachers", "distilled"):
            name = ("m1_" if parts[1] == "sweep_teachers" else "") + parts[3].rsplit("_seed_", 1)[0]
            accs.setdefault(name, []).append(r["test_acc"])
            gammas.setdefault(name, []).append(r.get("gamma"))
    points = []
    for k, gamma in sorted(tables.items()):
        parts = k.split("/")
        if len(parts) != 4 or parts[0] != "figure7" or parts[3] != "gamma":
            continue
        curve, (setting, value) = parts[1], parts[2].split("=")
        name = f"{curve.lower()}_{'T' if setting == 'temperature' else 'alpha'}_{value}"
        seeds = accs.get(name, [])
        if not seeds:
            continue
        acc, std = mean_std(seeds, 4)
        if curve in ("M3", "M4") and None not in gammas[name]:  # each seed's teacher's own γ, averaged
            gamma = mean_std(gammas[name], 5)[0]
        points.append({"curve": CURVES[curve], "alpha": float(value) if setting == "alpha" else None,
                       "temperature": float(value) if setting == "temperature" else None, "gamma": gamma,
                       "accuracy": acc, "accuracy_std": std, "n_seeds": len(seeds)})
    return points


def redraw_figure7(records: list[dict], tables: dict, prov: dict, path: Path) -> bool:
    """figures/distillation.png from the snapshot's own files (Figure 7 only); False without its points."""
    from ..reporting.figures import distillation_figure
    points = figure7_points(records, tables)
    if not points:
        return False
    p = prov["params"]
    distillation_figure({f"Figure 7: FCN → FCN on MNIST, β = {p['distill']['figure7']['beta']:g}, profile "
                         f"{prov['profile']}": points}, path)
    return True
