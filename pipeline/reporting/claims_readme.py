"""The README's short claims table, generated from a snapshot's claims.json (tools/results.py readme)."""
from __future__ import annotations

from .reference import TABLE2_ACCURACY

DATASETS = ("mnist", "fashion_mnist")


def summary(flat: dict, profile: str) -> str:
    def v(key):
        c = flat.get(key)
        return c["verdict"] if c else "not run yet"

    def both(what, fmt=lambda c: f"{c['effect']:+.2f}"):
        cells = []
        for ds in DATASETS:
            c = flat.get(what.format(ds=ds))
            cells.append("—" if not c else fmt(c))
        return " / ".join(cells)

    def verdicts(what):
        return " / ".join(v(what.format(ds=ds)) for ds in DATASETS)

    def gap(c):
        return f"hard-label confidence gap {c['gap']:+.4f}" if "gap" in c else f"ECE {c['effect']:+.3f}"

    rep = TABLE2_ACCURACY["replication"]
    rep_acc = "MNIST {:+.2f}, Fashion-MNIST {:+.2f}".format(*(rep[(d, "fcn")][0.1] - rep[(d, "fcn")][0.0]
                                                              for d in DATASETS))
    na = [flat.get(f"calibration/{ds}/ls_lowers_ece_of_overconfident") or {} for ds in DATASETS]
    short = " (not over-confident)" if any(c.get("verdict") == "not applicable" for c in na) else ""
    rows = [("label smoothing raises accuracy (α = 0.1, points)", "Müller (other networks); replication (FCNs)",
             both("accuracy/{ds}/alpha=0.1"), verdicts("accuracy/{ds}/alpha=0.1"), rep_acc),
            ("label smoothing lowers the ECE of over-confident networks", "Müller",
             both("calibration/{ds}/ls_lowers_ece_of_overconfident", gap),
             verdicts("calibration/{ds}/ls_lowers_ece_of_overconfident") + short,
             "yes, on its convnets (CIFAR-100 ResNet-56: ECE 0.207 → 0.043 at α = 0.1)"),
            ("label smoothing makes these FCNs under-confident (ECE up)", "replication",
             both("calibration/{ds}/ls_raises_ece", lambda c: f"ECE {c['effect']:+.3f}"),
             verdicts("calibration/{ds}/ls_raises_ece"), "yes"),
            ("temperature scaling calibrates better than label smoothing", "replication",
             both("calibration/{ds}/ts_beats_best_ls", lambda c: f"ECE {c['effect']:+.3f}"),
             verdicts("calibration/{ds}/ts_beats_best_ls"), "yes"),
            ("label smoothing tightens clusters, makes them equidistant (Fig. 2)", "Müller",
             both("projection/{ds}/train", lambda c: f"direction {c['direction']}"),
             verdicts("projection/{ds}/train") + " (one seed)", "yes (figures only)"),
            ("an LS teacher is a better model (error, points)", "Müller", both_one(flat, "table4/ls_teacher_better"),
             v("table4/ls_teacher_better"), "yes (−0.12)"),
            ("… but a worse teacher (student error, points)", "Müller", both_one(flat, "table4/ls_student_worse"),
             v("table4/ls_student_worse"), "yes (+0.12)"),
            ("at matched γ, students of T-scaled hard teachers beat LS teachers' (Fig. 7)", "Müller",
             "M3 − M4 at matched γ", (flat.get("figure7/overall") or {}).get("verdict", "not run yet"),
             "yes (figure only)")]
    link = f"results/{profile}/claims.md"
    out = [f"| claim | claimed by | ours: effect (MNIST / Fashion-MNIST) | verdict ([rule]({link})) | replication |",
           "|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    return "\n".join(out)


def both_one(flat: dict, key: str) -> str:
    c = flat.get(key)
    return f"{c['effect']:+.2f} (MNIST)" if c and c.get("effect") is not None else "—"
