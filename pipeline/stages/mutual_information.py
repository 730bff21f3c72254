"""DVC stage `mutual_information`: Müller's Figure 6, the information about an example left in its logits.

Usage: python -m pipeline.stages.mutual_information
Takes the weight snapshots that the `train` stage saves every
`schedules.<model>.snapshot_every` steps for the α = 0 and α = `alpha` runs
(first seed) of the profile's `mi_model` on its `mi_dataset`.
X is one of N training examples (`mi_examples_per_class` of each of the two
`classes`, drawn with `sample_seed`); Y is the difference of the two classes'
logits under the model's own training augmentation (crop and flip). For each
snapshot: L augmentations give μ_x, and Î follows pipeline/formulas/mi_estimator.py
with the `evaluated` and `pool` choices of params. The augmentations are the
same draws at every snapshot (one seeded generator per snapshot), so the curve
moves only because the weights do. The model runs in eval mode (BatchNorm with
its running statistics), as at test time.

Writes metrics/mutual_information.json (every point, and the final Î of each
run), plots/mutual_information/curve.json and plots/figures/mutual_information.png.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from ..config import ParamError, load_params
from ..data import inputs, naming, prepared, splits
from ..formulas.mi_estimator import mi_estimate
from ..io import load_tensors, write_json
from ..layout import FIGURES, MI_METRICS, MI_PLOTS, alpha_key, run_dir
from ..models import title
from ..reporting.figures import mutual_information_figure, not_run_figure
from ..stage import run
from ..training.integrity import verified
from ..training.restore import load_model


def sample_examples(labels: torch.Tensor, classes: list[int], per_class: int, seed: int) -> torch.Tensor:
    """per_class training examples of each class, drawn with ``seed``, sorted within each class."""
    try:
        drawn = splits.per_class(labels, classes, per_class, torch.Generator().manual_seed(seed), "the training split")
    except ValueError as e:
        raise ParamError("mi_examples_per_class", per_class, str(e)) from None
    return torch.cat([d.sort().values for d in drawn])


@torch.no_grad()
def logit_gaps(model, x: torch.Tensor, input_cfg: dict, classes: list[int], draws: int, seed: int,
               batch_size: int) -> torch.Tensor:
    """[N, draws] of f(d(z_x)) = logit[c0] − logit[c1] under ``draws`` random training augmentations."""
    g = torch.Generator().manual_seed(seed)
    cols = []
    for _ in range(draws):
        gaps = []
        for i in range(0, len(x), batch_size):
            z = model(inputs.train_batch(x[i:i + batch_size], input_cfg, g))
            gaps.append(z[:, classes[0]] - z[:, classes[1]])
        cols.append(torch.cat(gaps).double())
    return torch.stack(cols, dim=1)


def curve(run: Path, x: torch.Tensor, classes: list[int], m: dict, bs: int) -> list[dict]:
    model, meta = load_model(verified(run, "model.pt").parent)
    icfg = meta["config"]["input"]
    points = []
    for snap in sorted((run / "snapshots").glob("step_*.pt")):
        model.load_state_dict(load_tensors(verified(run, f"snapshots/{snap.name}")))
        model.eval()
        extra = 1 if m["evaluated"] == "fresh" else 0
        y = logit_gaps(model, x, icfg, classes, m["augmentations"] + extra, m["augment_seed"], bs)
        fresh = y[:, -1] if extra else None
        mi = mi_estimate(y[:, :m["augmentations"]], fresh, m["pool"])
        points.append({"step": int(snap.stem.split("_")[1]), "mi": round(mi, 5)})
    return points


def main() -> int:
    p = load_params()
    m, seed0 = p["mutual_information"], p["active"]["seeds"][0]
    dataset = p["active"]["mi_dataset"]
    if dataset is None:  # the profile runs no Figure 6: say so in every output
        why = f"profiles.{p['profile']}.mi_dataset is null: this profile runs no Figure 6"
        write_json(MI_PLOTS / "curve.json", [])
        not_run_figure(why, FIGURES / "mutual_information.png")
        write_json(MI_METRICS, {"skipped": why})
        return 0
    data, meta = prepared.load(dataset)
    model_name = p["active"]["mi_model"]
    classes = [meta["classes"].index(c) for c in m["classes"]]
    idx = sample_examples(data["train_y"], classes, p["active"]["mi_examples_per_class"], m["sample_seed"])
    x, n = data["train_x"][idx], len(idx)
    metrics: dict = {"n_examples": n, "log_n": round(math.log(n), 5), "log_2": round(math.log(2), 5),
                     "augmentations": m["augmentations"], "evaluated": m["evaluated"], "pool": m["pool"],
                     "classes": m["classes"], "indices": idx.tolist()}
    rows = []
    for a in sorted({0.0, float(p["alpha"])}):
        pts = curve(run_dir(model_name, dataset, a, seed0), x, classes, m, p["execution"]["eval_batch_size"])
        if not pts:
            raise RuntimeError(f"no snapshots for {model_name} on {dataset}: set "
                               f"profiles.{p['profile']}.schedules.{model_name}.snapshot_every")
        metrics[alpha_key(a)] = {"final_mi": pts[-1]["mi"], "max_mi": max(q["mi"] for q in pts),
                                 "final_step": pts[-1]["step"], "curve": pts}
        label = "hard labels" if a == 0 else f"label smoothing α={a:g}"
        rows += [{"step": q["step"], "mi": q["mi"], "curve": label} for q in pts]
        print(f"mutual_information: {model_name} alpha={a:g}: Î = "
              + ", ".join(f"{q['mi']:.3f}@{q['step']}" for q in pts))
    write_json(MI_PLOTS / "curve.json", rows)
    mutual_information_figure(rows, n, f"{title(model_name)} on {naming.title(dataset)}: "
                              f"{' vs '.join(m['classes'])}, N = {n}, L = {m['augmentations']}",
                              FIGURES / "mutual_information.png")
    write_json(MI_METRICS, metrics)
    return 0


if __name__ == "__main__":
    run(main)
