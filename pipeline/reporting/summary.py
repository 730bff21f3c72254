"""The few lines `make demo` ends with: hard labels against label smoothing per Table 2 row, and
where the full tables and figures are.

Usage: python -m pipeline.reporting.summary   (reads metrics/ under the repository root)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def summary(root: Path = ROOT) -> str:
    """Head-to-head rows (accuracy, ECE; BLEU and NLL for the Transformer) and the outputs' paths."""
    train, calib = _read(root / "metrics/train.json"), _read(root / "metrics/calibration.json")
    from ..data.naming import title  # the files preprocess actually read (official, or a stand-in)
    lines = ["| model | dataset | α | test acc (hard → LS) | ECE (hard → LS) |", "|---|---|---|---|---|"]
    for arch, by_ds in train.items():
        for ds, m in by_ds.items():
            h = m.get("head_to_head")
            if not h:
                continue
            c = calib.get(arch, {}).get(ds, {})
            a = f"alpha_{h['alpha']:g}"
            ece = (f"{c['alpha_0']['test_ece']:.3f} → {c[a]['test_ece']:.3f}" if "alpha_0" in c and a in c
                   else "n/a")
            name = title(ds, root / "data/prepared")
            lines.append(f"| {arch} | {name} | {h['alpha']:g} | {h['hard_test_acc']:.2f} → {h['ls_test_acc']:.2f} % "
                         f"| {ece} |")
    tr = _read(root / "metrics/translation.json")
    ls = next((k for k in tr if k != "alpha_0" and k.startswith("alpha_")), None)
    if "alpha_0" in tr and ls:
        h, s = tr["alpha_0"], tr[ls]
        lines.append(f"\nTransformer ({ls.replace('_', ' = ')}): BLEU {h['bleu_beam']:.2f} → {s['bleu_beam']:.2f} "
                     f"(sacrebleu {h['signature']}), NLL {h['test_nll']:.3f} → {s['test_nll']:.3f}, "
                     f"ECE {h['test_ece']:.3f} → {s['test_ece']:.3f}")
    figures = sorted(p.relative_to(root).as_posix() for p in (root / "plots/figures").glob("*.png"))
    lines += ["", "Full tables beside both papers' numbers: metrics/tables.md (and `dvc metrics show`).",
              f"Figures ({len(figures)}): " + ", ".join(figures) + ".",
              "Reliability diagrams and curves in the browser, offline: `dvc plots show`."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
    sys.exit(0)
