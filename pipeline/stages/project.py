"""DVC stage `project`: the penultimate-layer representation (Figure 2) and its cluster metrics.

Usage: python -m pipeline.stages.project
For each (model, dataset) of the profile's classifiers whose dataset has
classes under `project.classes`, takes
`examples_per_class` examples of each class from the training split (no
augmentation unless `train_augmented`) and from the held-out split, drawn with
`sample_seed`, and projects the penultimate activations of the alpha=0 and
alpha=`alpha` models (first seed) onto the plane of the three class templates
(pipeline/formulas/template_plane.py). Writes metrics/projection.json (tightness and
equidistance per model and split), plots/projection/<dataset>_<model>.json (every
point, with the example's index, for `dvc plots`) and plots/figures/projection.png.
Each model sees its examples exactly as at test time (pipeline/data/inputs.py):
centre-cropped and standardised where its training did so.
"""
from __future__ import annotations

import torch

from ..config import ParamError, classifiers, load_params
from ..data import inputs, naming, prepared, splits
from ..formulas import template_plane as pj
from ..io import prune, write_json
from ..layout import FIGURES, PROJECTION_METRICS, PROJECTION_PLOTS, alpha_key, run_dir
from ..models import title
from ..reporting.figures import projection_figure
from ..stage import run
from ..training.integrity import verified
from ..training.restore import load_model


def sample(labels: torch.Tensor, classes: list[int], n: int, gen: torch.Generator, where: str) -> torch.Tensor:
    """n indices of each class (in class order), drawn without replacement."""
    try:
        return torch.cat(splits.per_class(labels, classes, n, gen, where))
    except ValueError as e:
        raise ParamError("project.examples_per_class", n, str(e)) from None


def model_view(x: torch.Tensor, icfg: dict, split: str, train_augmented: bool, gen: torch.Generator) -> torch.Tensor:
    """The examples as the model sees them: its test-time view, or for the training split with
    ``train_augmented`` the training augmentation drawn from ``gen``."""
    return inputs.train_batch(x, icfg, gen) if split == "train" and train_augmented else inputs.eval_batch(x, icfg)


@torch.no_grad()
def main() -> int:
    p = load_params()
    pc, seed0 = p["project"], p["active"]["seeds"][0]
    metrics, panels = {}, {}
    for arch, ds in [(a, d) for a, d in classifiers(p) if d in pc["classes"]]:
        data, meta = prepared.load(ds)
        names = pc["classes"][ds]
        cls = [meta["classes"].index(n) for n in names]
        gen = torch.Generator().manual_seed(pc["sample_seed"])
        held = pc["heldout_split"]
        splits = {"train": sample(data["train_y"], cls, pc["examples_per_class"], gen, f"{ds} train"),
                  held: sample(data[f"{held}_y"], cls, pc["examples_per_class"], gen, f"{ds} {held}")}
        out, rows, tmpl_rows = {}, [], []
        for a in sorted({0.0, float(p["alpha"])}):
            model, run = load_model(verified(run_dir(arch, ds, a, seed0), "model.pt").parent)
            icfg = run["config"]["input"]
            aug_gen = torch.Generator().manual_seed(pc["sample_seed"])
            tmpl = pj.templates(model.head.weight.detach(), model.head.bias.detach(), cls)
            basis = pj.plane_basis(tmpl)
            t_xy = pj.project(tmpl, basis)
            out[alpha_key(a)] = {}
            for split, idx in splits.items():
                x = model_view(data[f"{split}_x"][idx], icfg, split, pc["train_augmented"], aug_gen)
                xy = pj.project(pj.lift(model.features(x)), basis)
                labels = data[f"{split}_y"][idx]
                out[alpha_key(a)][split] = {k: round(v, 5) for k, v in pj.cluster_metrics(xy, labels).items()}
                panel = f"α={a:g}, {'training' if split == 'train' else 'held-out (' + split + ')'}"
                rows += [{"panel": panel, "x": round(u, 4), "y": round(v, 4), "class": names[cls.index(int(lab))],
                          "split": split, "index": int(i)}
                         for (u, v), lab, i in zip(xy.tolist(), labels.tolist(), idx.tolist())]
                tmpl_rows += [{"panel": panel, "x": u, "y": v, "class": n} for (u, v), n in zip(t_xy.tolist(), names)]
            m = out[alpha_key(a)]
            print(f"project: {ds} {arch} alpha={a:g}: tightness train {m['train']['tightness']:.3f}, "
                  f"equidistance train {m['train']['equidistance']:.3f}")
        write_json(PROJECTION_PLOTS / f"{ds}_{arch}.json", rows)
        panels[f"{title(arch)} on {naming.title(ds)}"] = (rows, tmpl_rows)
        out["sample"] = {"seed": pc["sample_seed"], "per_class": pc["examples_per_class"],
                         "classes": names, "heldout_split": pc["heldout_split"]}
        metrics.setdefault(arch, {})[ds] = out
    prune(PROJECTION_PLOTS, {f"{ds}_{arch}.json" for arch in metrics for ds in metrics[arch]})
    projection_figure(panels, FIGURES / "projection.png",
                      f"Seed {p['active']['seeds'][0]}, {pc['examples_per_class']} examples a class per panel "
                      f"(drawn with sample seed {pc['sample_seed']}), profile {p['profile']}")
    write_json(PROJECTION_METRICS, metrics)
    return 0


if __name__ == "__main__":
    run(main)
