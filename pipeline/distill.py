"""DVC stage `distill`: Figure 7 — accuracy against the smoothness index γ, four curves.

Usage: python -m pipeline.distill
- M1: the sweep teachers' accuracy, γ = α.
- M2: students trained with label smoothing α (no teacher), γ = α.
- M3: students distilled from the hard-label teacher (α = 0) at each temperature T.
- M4: students distilled from the label-smoothed teachers (α > 0) at T = 1.
M3 and M4 use Müller's Eq. 2 with `distill.figure7.beta` and student
temperature 1; their γ is the smoothness index of the teacher at T over the
(non-augmented) training set (pipeline/distillation.py). Error bars are the
std over the profile's seeds. Writes models/distilled/, metrics/distill.json,
plots/distill/figure7.json and plots/figures/distillation.png.
"""
from __future__ import annotations

from .checkpoints import load_run_model
from .config import load_params
from .data import prepared
from .distillation import smoothness_index
from .figures import distillation_figure
from .io import prune, read_json, write_json
from .layout import DISTILL_METRICS, DISTILL_PLOTS, DISTILLED, FIGURES, SWEEP_TEACHERS, alpha_key
from .runs import fcn_run_config, label_smoothing, soft_targets
from .seeds import mean_std
from .stage import run
from .training.builders import resolve_device
from .training.loop import predict
from .training.run import train_run


def point(curve: str, setting: dict, gammas: list[float], accs: list[float]) -> dict:
    acc, acc_std = mean_std(accs, 4)
    return {"curve": curve, **setting, "gamma": mean_std(gammas, 5)[0], "accuracy": acc,
            "accuracy_std": acc_std, "n_seeds": len(accs)}


def metric_key(c: dict) -> str:
    """'M3/temperature=4', 'M1/alpha=0.3', … for the flat metrics."""
    setting = "alpha" if "alpha" in c else "temperature"
    return f"{c['curve'].split()[0]}/{setting}={c[setting]:g}"


def main() -> int:
    p = load_params()
    d, b = p["distill"], p["budget"]
    device = resolve_device(p["train"]["device"])
    data, _ = prepared.load(d["dataset"])
    x, y = data["train_x"], data["train_y"]
    if b["max_train_examples"]:
        x, y = x[:b["max_train_examples"]], y[:b["max_train_examples"]]
    beta, seeds, keep = d["figure7"]["beta"], b["seeds"], set()

    def student(tag: str, seed: int, loss: dict, teacher_dir=None) -> dict:
        tkey = read_json(teacher_dir / "metrics.json")["key"] if teacher_dir else None
        cfg = fcn_run_config(p, d["dataset"], seed, hidden=d["student_hidden"], dropout=0.0,
                             max_shift=d["student_max_shift"], loss=loss, teacher=tkey)
        out = DISTILLED / f"{tag}_seed_{seed}"
        keep.add(out.name)
        m = train_run(out, cfg, device, p["train"], teacher_dir=teacher_dir)
        print(f"distill {tag} seed={seed}: test acc {m['test_acc']:.2f}%" + (" (reused)" if m["reused"] else ""))
        return m

    teacher_logits = {}  # (alpha, seed) -> logits of the teacher on the training set

    def gamma(a: float, seed: int, temperature: float) -> float:
        if (a, seed) not in teacher_logits:
            model, _ = load_run_model(SWEEP_TEACHERS / f"{alpha_key(a)}_seed_{seed}")
            teacher_logits[(a, seed)] = predict(model, lambda s: prepared.to_unit_float(x[s]), len(x),
                                                p["train"]["eval_batch_size"])
        return smoothness_index(teacher_logits[(a, seed)], y, temperature)

    curves = []
    for a in b["distill_alphas"]:
        accs = [read_json(SWEEP_TEACHERS / f"{alpha_key(a)}_seed_{s}" / "metrics.json")["test_acc"] for s in seeds]
        curves.append(point("M1 teacher, label smoothing", {"alpha": a}, [a] * len(seeds), accs))
    for a in b["distill_alphas"]:
        accs = [student(f"m2_{alpha_key(a)}", s, label_smoothing(a))["test_acc"] for s in seeds]
        curves.append(point("M2 student, label smoothing", {"alpha": a}, [a] * len(seeds), accs))
    for t in b["distill_temperatures"]:
        accs = [student(f"m3_T_{t:g}", s, soft_targets(beta, t), SWEEP_TEACHERS / f"alpha_0_seed_{s}")["test_acc"]
                for s in seeds]
        curves.append(point("M3 student of hard-label teacher at T", {"temperature": t},
                            [gamma(0.0, s, t) for s in seeds], accs))
    for a in [a for a in b["distill_alphas"] if a > 0]:
        accs = [student(f"m4_{alpha_key(a)}", s, soft_targets(beta, 1.0),
                        SWEEP_TEACHERS / f"{alpha_key(a)}_seed_{s}")["test_acc"] for s in seeds]
        curves.append(point("M4 student of label-smoothed teacher, T=1", {"alpha": a},
                            [gamma(a, s, 1.0) for s in seeds], accs))
    prune(DISTILLED, keep)
    write_json(DISTILL_PLOTS / "figure7.json", curves)
    write_json(DISTILL_METRICS, {metric_key(c): {"gamma": c["gamma"], "accuracy": c["accuracy"]} for c in curves})
    distillation_figure(curves, f"FCN {d['teacher_hidden'][0]} → FCN {d['student_hidden'][0]} on {d['dataset']}",
                        FIGURES / "distillation.png")
    return 0


if __name__ == "__main__":
    run(main)
