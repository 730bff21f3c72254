"""The `tables` stage's document: our numbers beside the papers', as Markdown and flat JSON.

Reads the metrics files the other stages wrote (paths in pipeline/layout.py); ``document`` returns
the Markdown of metrics/tables.md and the flat dict of metrics/tables.json.
"""
from __future__ import annotations

from pathlib import Path

from ..config import alphas_to_train, classifiers
from ..data import naming, registry
from ..io import read_json
from ..layout import (
    CALIBRATION_METRICS,
    MI_METRICS,
    PROJECTION_METRICS,
    TRAIN_METRICS,
    TRANSLATION_METRICS,
    alpha_key,
)
from ..models import title
from .distillation import distill_tables, t4_loss, table4
from .markdown import fmt as _fmt
from .markdown import md_table
from .reference import (
    REFERENCE_DATASET,
    TABLE2_ACCURACY,
    TABLE3_ECE,
    reference_title,
    reference_values,
)
from .translation import translation_section


def _title(ds: str) -> str:
    return naming.title(ds)




# A caption that is true of the default profile only (a snapshot of another profile drops it).
DEFAULT_ONLY = " Müller's and the replication's networks trained far longer than the default profile."


def profile_line(p: dict) -> str:
    b = p["active"]
    subset = f", first {b['max_train_examples']} training examples" if b["max_train_examples"] else ""
    sched = "".join(f"; {title(a)} {s['length']} {s['unit']}" for a, s in b["schedules"].items()
                    if b["classifiers"][a])
    cifar = ("CIFAR: trained on 40k of the official training images, reported on the other 10k (Müller), "
             f"temperatures fitted on {p['data']['val_size']} official test images"
             if p["data"]["cifar_report"] == "heldout" else
             f"CIFAR: {p['data']['val_size']} training images held out for validation, "
             "reported on the official test set")
    return (f"Ours: profile `{p['profile']}` — FCN {b['fcn_epochs']} epochs{sched}; seeds {b['seeds']}{subset}. "
            f"MNIST family: {p['data']['val_size']} examples of the official training split held out for "
            f"validation, accuracy on the official test split. {cifar}. Mean ± std over seeds."
            + (" **CIFAR-10 (lossy JPEG stand-in)** rows are trained and tested on the offline JPEG re-encoding "
               "of CIFAR-10, not the official files; the papers' rows beside them are for the official CIFAR-10."
               if any(_title(ds) == registry.get("cifar10_jpeg").title for ds in b["datasets"]) else ""))


def table2(p: dict, train: dict) -> tuple[str, dict]:
    flat: dict[str, float] = {}
    blocks = []
    for arch, ds in classifiers(p):
        alphas = alphas_to_train(p, arch)
        rows = []
        for source, ref in TABLE2_ACCURACY.items():
            vals = reference_values(ref, ds, arch)
            if vals:
                rows.append([reference_title(ds), title(arch), source] + [_fmt(vals.get(a)) for a in alphas])
        ours = [train[arch][ds][alpha_key(a)] for a in alphas]
        rows.append([_title(ds), title(arch), "**ours**"] + [_fmt(m["test_acc"], m["test_acc_std"]) for m in ours])
        for a, m in zip(alphas, ours):
            key = f"table2/{ds}/{arch}/alpha={a:g}"
            flat[f"{key}/acc"] = m["test_acc"]
            ref = (reference_values(TABLE2_ACCURACY["replication"], ds, arch) or {}).get(a)
            if ref is not None:
                flat[f"{key}/minus_replication"] = round(m["test_acc"] - ref, 4)
        blocks.append((alphas, rows))
    # One table per set of α columns (the swept models, then the head-to-head ones).
    text = []
    for alphas in sorted({tuple(a) for a, _ in blocks}, key=len, reverse=True):
        rows = [r for a, rs in blocks if tuple(a) == alphas for r in rs]
        text.append(md_table(["dataset", "model", "source"] + [f"α={a:g}" for a in alphas], rows))
    return "\n\n".join(text + [not_trained(p)]), flat


def not_trained(p: dict) -> str:
    """The papers' Table 2 rows this profile does not train, each with what running it takes."""
    ours = {(ds, arch) for arch, ds in classifiers(p)} | {(REFERENCE_DATASET.get(ds, ds), arch)
                                                          for arch, ds in classifiers(p)}
    lines = []
    for ds, arch in sorted({k for ref in TABLE2_ACCURACY.values() for k in ref} - ours):
        if ds not in registry.REGISTRY:
            lines.append(f"- {ds} / {arch}: not built here (no {ds} in the dataset registry)")
            continue
        spec = registry.get(ds)
        need = ", ".join(f"`{f.mirror_path}` ({f.url or 'mirror only'}, "
                         + (f"md5 {f.md5}" if f.md5 else f"sha256 {f.sha256}") + ")" for f in spec.files)
        lines.append(f"- {spec.title} / {title(arch)}: needs {need} in `DATA_MIRROR` or online; "
                     f"trained by the `paper` profile")
    return ("Rows of the papers' Table 2 this profile does not train:\n\n" + "\n".join(lines)) if lines else ""


def head_to_head(p: dict, train: dict) -> tuple[str, dict]:
    rows, flat, n = [], {}, len(p["active"]["seeds"])
    for arch, ds in classifiers(p):
        h, m0, m1 = (train[arch][ds][k] for k in ("head_to_head", alpha_key(0.0), alpha_key(p["alpha"])))
        rows.append([_title(ds), title(arch), _fmt(h["hard_test_acc"], m0["test_acc_std"]),
                     _fmt(h["ls_test_acc"], m1["test_acc_std"]), f"{h['delta']:+.2f}", str(n)])
        flat[f"head_to_head/{ds}/{arch}/delta"] = h["delta"]
    note = ("" if n > 1 else "\n\nOne seed: Δ has no error bar, and seed-to-seed differences of short runs are of "
            "this size; it is not evidence for or against the papers. Seeds and verdicts: `results/reference/`.")
    return md_table(["dataset", "model", "hard labels", f"α={p['alpha']:g}", "Δ", "seeds"], rows) + note, flat


def _ece(v: float | None, std: float | None = None) -> str:
    return _fmt(v, std, nd=3)


def table3(p: dict, cal: dict) -> tuple[str, dict]:
    """Table 3 as the replication lays it out: hard labels (ECE after T-scaling, T, ECE at T=1)
    and ECE at T=1 for each α of the sweep (— where a model was not trained at that α)."""
    sweep = sorted({a for arch, _ in classifiers(p) for a in alphas_to_train(p, arch) if a > 0})
    rows, flat = [], {}
    for arch, ds in classifiers(p):
        for source, ref in TABLE3_ECE.items():
            r = reference_values(ref, ds, arch)
            if r:
                rows.append([reference_title(ds), title(arch), source, _ece(r["ts"][0]), f"{r['ts'][1]:g}",
                             _ece(r["hard"])] + [_ece(r["ls"].get(a)) for a in sweep])
        ours = cal[arch][ds]
        hard = ours[alpha_key(0.0)]
        rows.append([_title(ds), title(arch), "**ours**", _ece(hard["test_ece_ts"], hard.get("test_ece_ts_std")),
                     f"{hard['temperature']:.2f}", _ece(hard["test_ece"], hard.get("test_ece_std"))]
                    + [_ece(ours[alpha_key(a)]["test_ece"], ours[alpha_key(a)].get("test_ece_std"))
                       if alpha_key(a) in ours else "—" for a in sweep])
        key = f"table3/{ds}/{arch}"
        flat[f"{key}/hard/ece"] = hard["test_ece"]
        flat[f"{key}/hard/temperature"] = hard["temperature"]
        flat[f"{key}/hard/ece_ts"] = hard["test_ece_ts"]
        for a in sweep:
            if alpha_key(a) in ours:
                flat[f"{key}/alpha={a:g}/ece"] = ours[alpha_key(a)]["test_ece"]
    header = (["dataset", "model", "source", "α=0, T fitted: ECE", "T", "α=0, T=1: ECE"]
              + [f"α={a:g}, T=1: ECE" for a in sweep])
    return md_table(header, rows), flat


def calibration_detail(p: dict, cal: dict) -> str:
    """Each setting's calibration numbers (means over its n seeds), with the validation-split check (— where
    only the runs' records were at hand: a snapshot refreshed from its records, pipeline/snapshots/seeds.py)."""
    def num(v, nd):
        return "—" if v is None else f"{v:.{nd}f}"
    rows = []
    for arch, ds in classifiers(p):
        for a in alphas_to_train(p, arch):
            m = cal[arch][ds][alpha_key(a)]
            rows.append([_title(ds), title(arch), f"{a:g}", str(m["n_seeds"]), _ece(m["test_ece"]),
                         num(m["temperature"], 3), _ece(m["test_ece_ts"]), num(m.get("temperature_ece_grid"), 2),
                         _ece(m.get("test_ece_at_grid_t")), _ece(m.get("val_ece")), _ece(m.get("val_ece_ts")),
                         num(m["test_nll"], 4), num(m["test_nll_ts"], 4)])
    missing = any("—" in (r[7], r[9]) for r in rows)
    return md_table(["dataset", "model", "α", "n (seeds)", "test ECE (T=1)", "T (NLL fit, val)", "test ECE (fitted T)",
                     "T (ECE grid, val)", "test ECE (grid T)", "val ECE (T=1)", "val ECE (fitted T)",
                     "test NLL (T=1)", "test NLL (fitted T)"], rows) + (
        "\n\n—: not in the snapshot's records, which keep each run's test metrics and fitted T; the grid "
        "temperature and the validation-split ECE need the runs' logits." if missing else "")


def projection_table(p: dict, proj: dict) -> tuple[str, dict]:
    """Figure 2's claim in numbers: tighter, more equidistant clusters with label smoothing."""
    rows, flat = [], {}
    for arch, per_ds in proj.items():
        for ds, per_alpha in per_ds.items():
            for key, splits in per_alpha.items():
                if not key.startswith("alpha_"):
                    continue
                for split, m in splits.items():
                    rows.append([_title(ds), title(arch), key.removeprefix("alpha_"), split,
                                 f"{m['tightness']:.3f}", f"{m['equidistance']:.3f}", f"{m['separation']:.2f}"])
                    for name in ("tightness", "equidistance"):
                        flat[f"projection/{ds}/{arch}/{key.replace('_', '=')}/{split}/{name}"] = m[name]
    return md_table(["dataset", "model", "α", "examples", "tightness ↓", "equidistance ↓",
                     "separation (scale)"], rows), flat


def mutual_information_table(p: dict, root: Path = Path(".")) -> tuple[str, dict]:
    """Figure 6 in numbers: Î at the first, highest and last snapshot of each run."""
    mi, m = read_json(root / MI_METRICS), p["mutual_information"]
    if "skipped" in mi:
        return f"Not run: {mi['skipped']}.", {}
    about = (f"{title(p['active']['mi_model'])} on {_title(p['active']['mi_dataset'])}, "
             f"classes {' / '.join(m['classes'])}: "
             f"Î (nats) between the example's identity and logit[{m['classes'][0]}] − logit[{m['classes'][1]}] "
             f"under the training augmentation, L = {m['augmentations']} draws per example, evaluated on "
             f"{'a fresh draw' if m['evaluated'] == 'fresh' else 'the first of the L draws'}, σ² pooled over "
             f"{'the evaluated draws' if m['pool'] == 'evaluated' else 'the L draws'} "
             "(pipeline/formulas/mi_estimator.py). Müller's curve rises, then falls, further with label smoothing, "
             "ending slightly above log 2. Figure: `plots/figures/mutual_information.png`.")
    rows, flat = [], {}
    for key in sorted(k for k in mi if k.startswith("alpha_")):
        c = mi[key]["curve"]
        a = key.removeprefix("alpha_")
        rows.append([a, f"{c[0]['mi']:.3f}", f"{mi[key]['max_mi']:.3f}", f"{mi[key]['final_mi']:.3f}",
                     str(mi[key]["final_step"])])
        flat[f"mutual_information/alpha={a}/final"] = mi[key]["final_mi"]
        flat[f"mutual_information/alpha={a}/max"] = mi[key]["max_mi"]
    text = about + "\n\n" + md_table(["α", "Î at step 0", "highest Î", "final Î", "final step"], rows)
    return text + f"\n\nBounds: log 2 = {mi['log_2']:.3f}, log N = {mi['log_n']:.3f} (N = {mi['n_examples']}).", flat


CLASSIFIER_SECTIONS = ("## Table 2", "## Figure 2")  # where classifier_sections' text starts, and what follows it


def classifier_sections(p: dict, train: dict, cal: dict) -> tuple[list[str], dict]:
    """(Markdown parts, flat metrics) of Table 2, the head-to-head comparison and Table 3 with its detail, from
    per-setting summaries over seeds (the train and calibrate stages' metrics, or a snapshot's records)."""
    t2, f2 = table2(p, train)
    hh, fh = head_to_head(p, train)
    t3, f3 = table3(p, cal)
    return [
        "## Table 2 — test accuracy (%) with label smoothing",
        "`muller` is Müller et al. (2019, 5 seeds); `replication` is Wagner et al. (2023, one seed; FCNs "
        "trained on all 60k training images for 100 epochs, CIFAR on all 50k). Models outside the profile's "
        "`sweep_models` are trained at α = 0 and α = `alpha` only.",
        t2,
        f"## Head-to-head: hard labels against α = {p['alpha']:g}",
        hh,
        "## Table 3 — expected calibration error (15 bins, test split)",
        "T is fitted by NLL on the validation split (never on the test split); the replication chose "
        "T by test-set ECE. Müller et al. report no FCN, AlexNet or CIFAR-10 rows in Table 3.",
        t3,
        "### Calibration of every setting",
        "Means over each setting's n seeds (per-seed numbers: a snapshot's runs.json). "
        "`T (ECE grid, val)` is the grid temperature with the lowest validation ECE, reported beside the "
        "NLL fit. Validation ECE after the fit is the check that the fit helped on the data it saw.",
        calibration_detail(p, cal),
        "Reliability diagrams: `plots/figures/reliability.png`, and `dvc plots show` (plots/reliability/).",
    ], {**f2, **fh, **f3}


def document(p: dict, root: Path = Path(".")) -> tuple[str, dict]:
    """(Markdown, flat metrics) of every table the profile produced, from the metrics and plots under ``root``
    (the project; a folder of merged GPU pieces for pipeline/gpu_session/fold.py)."""
    classifier_parts, fc = classifier_sections(p, read_json(root / TRAIN_METRICS),
                                               read_json(root / CALIBRATION_METRICS))
    pt, fp = projection_table(p, read_json(root / PROJECTION_METRICS))
    t4, f4 = table4(p, root=root)
    f7, ff7 = distill_tables(p, root)
    mi, fmi = mutual_information_table(p, root)
    trm = read_json(root / TRANSLATION_METRICS)  # {"skipped": why} where a results snapshot did not run it
    tr, ftr = ((f"Not run: {trm['skipped']}.", {}) if "skipped" in trm else
               translation_section(p, trm, alphas_to_train(p, "transformer")))
    d = p["distill"]
    md = "\n\n".join([
        "# Results",
        profile_line(p),
        *classifier_parts,
        "## Figure 2 — penultimate-layer clusters",
        "Projection onto the plane of the three class templates (bias included), 100 examples per class. "
        "tightness = mean RMS distance to the class centroid / mean centroid distance; equidistance = "
        "std / mean of the three centroid distances (0 = equilateral). Müller's claim: label smoothing "
        "lowers both. Figure: `plots/figures/projection.png`.",
        pt,
        "## Table 4 — distillation on MNIST, test error (%)",
        f"Teachers FCN {d['teacher_hidden']} with ±{d['teacher_max_shift']} px shifts; students FCN "
        f"{d['student_hidden']} without augmentation or dropout, loss {t4_loss(p)}."
        + (DEFAULT_ONLY if p["profile"] == "default" else ""),
        t4,
        f7,
        "## Figure 6 — mutual information between an example and its logit gap",
        mi,
        "## Translation — Table 3's Transformer row, BLEU and Figure 5 in numbers",
        tr,
    ]) + "\n"
    return md, {**fc, **fp, **f4, **ff7, **fmi, **ftr}
