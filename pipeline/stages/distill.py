"""DVC stage `distill`: Figures 7 and 8 — accuracy against the smoothness index γ, four curves each.

Usage: python -m pipeline.stages.distill
- M1: the sweep teachers' accuracy, γ = α.
- M2: students trained with label smoothing α (no teacher), γ = α.
- M3: students distilled from the hard-label teacher (α = 0) at each temperature T.
- M4: students distilled from the label-smoothed teachers (α > 0) at T = 1.
M3 and M4 use Müller's Eq. 2 with the figure's β and student temperature 1
(times the student's loss scale: AlexNet's CE × 3); their γ is the smoothness
index of the teacher at T over the training set, each image in the teacher's
test-time view (pipeline/formulas/smoothness.py). Figure 7: FCN → FCN on MNIST;
Figure 8 (where the profile names `figure8_dataset`): ResNet-56 → AlexNet on
CIFAR-10. Error bars are the std over the profile's seeds. Writes
models/distilled/<figure>/, metrics/distill.json, plots/distill/<figure>.json
and plots/figures/distillation.png (one panel per figure).
"""
from __future__ import annotations

from ..config import distill_figures, load_params
from ..data import naming, prepared
from ..formulas.smoothness import smoothness_index
from ..formulas.spread import mean_std
from ..io import prune, read_json, write_json
from ..layout import DISTILL_METRICS, DISTILL_PLOTS, DISTILLED, FIGURES, SWEEP_TEACHERS, alpha_key
from ..models import title
from ..reporting.figures import CURVES, distillation_figure
from ..run_configs import label_smoothing, soft_targets, student_config, student_loss_scale
from ..stage import run
from ..training.backend import local_device, stage_device, train_runs
from ..training.dispatch import CLASSIFIER_TRAINER, Job
from ..training.run import TEACHER_BATCH, teacher_logits


def point(curve: str, setting: dict, gammas: list[float], accs: list[float]) -> dict:
    acc, acc_std = mean_std(accs, 4)
    # every row has both keys (null where unused): DVC's plots drop files whose rows differ in keys
    return {"curve": curve, "alpha": None, "temperature": None, **setting, "gamma": mean_std(gammas, 5)[0],
            "accuracy": acc, "accuracy_std": acc_std, "n_seeds": len(accs)}


def metric_key(c: dict) -> str:
    """'M3/temperature=4', 'M1/alpha=0.3', … for the flat metrics."""
    setting = "alpha" if c["alpha"] is not None else "temperature"
    return f"{c['curve'].split()[0]}/{setting}={c[setting]:g}"


def distill_figure(p: dict, figure: str, setup: dict, device) -> list[dict]:
    b = p["active"]
    data, _ = prepared.load(setup["dataset"])
    x, y = data["train_x"], data["train_y"]
    if b["max_train_examples"]:
        x, y = x[:b["max_train_examples"]], y[:b["max_train_examples"]]
    beta, seeds = setup["beta"], b["distill_seeds"]
    scale = student_loss_scale(p, setup)
    teachers = SWEEP_TEACHERS / figure
    # Every student of the figure, then one call that trains them (same-shaped FCNs stack on CUDA).
    students: dict[tuple[str, int], Job] = {}

    def student(tag: str, seed: int, loss: dict, teacher_dir=None) -> tuple[str, int]:
        tkey = read_json(teacher_dir / "metrics.json")["key"] if teacher_dir else None
        students[(tag, seed)] = Job(DISTILLED / figure / f"{tag}_seed_{seed}",
                                    student_config(p, setup, seed, loss, tkey), teacher_dir)
        return tag, seed

    m2 = {a: [student(f"m2_{alpha_key(a)}", s, label_smoothing(a, scale)) for s in seeds] for a in b["distill_alphas"]}
    m3 = {t: [student(f"m3_T_{t:g}", s, soft_targets(beta, t, scale), teachers / f"alpha_0_seed_{s}") for s in seeds]
          for t in b["distill_temperatures"]}
    m4 = {a: [student(f"m4_{alpha_key(a)}", s, soft_targets(beta, 1.0, scale), teachers / f"{alpha_key(a)}_seed_{s}")
              for s in seeds] for a in b["distill_alphas"] if a > 0}
    done = dict(zip(students, train_runs(list(students.values()), device, p["execution"], CLASSIFIER_TRAINER)))
    for (tag, seed), m in done.items():
        print(f"distill {figure} {tag} seed={seed}: test acc {m['test_acc']:.2f}%"
              + (" (reused)" if m["reused"] else ""))
    acc = {k: m["test_acc"] for k, m in done.items()}

    def gamma(a: float, seed: int, temperature: float) -> float:
        z = teacher_logits(teachers / f"{alpha_key(a)}_seed_{seed}", setup["dataset"], x, local_device(p["execution"]),
                           TEACHER_BATCH)  # the students' pass, cached
        return smoothness_index(z.cpu(), y.cpu(), temperature)

    curves = []
    for a in b["distill_alphas"]:
        accs = [read_json(teachers / f"{alpha_key(a)}_seed_{s}" / "metrics.json")["test_acc"] for s in seeds]
        curves.append(point(CURVES["M1"], {"alpha": a}, [a] * len(seeds), accs))
    for a, runs in m2.items():
        curves.append(point(CURVES["M2"], {"alpha": a}, [a] * len(seeds), [acc[r] for r in runs]))
    for t, runs in m3.items():
        curves.append(point(CURVES["M3"], {"temperature": t},
                            [gamma(0.0, s, t) for s in seeds], [acc[r] for r in runs]))
    for a, runs in m4.items():
        curves.append(point(CURVES["M4"], {"alpha": a},
                            [gamma(a, s, 1.0) for s in seeds], [acc[r] for r in runs]))
    prune(DISTILLED / figure, {j.run_dir.name for j in students.values()})
    return curves


def main() -> int:
    p = load_params()
    device = stage_device(p["execution"])
    figures = distill_figures(p)
    metrics, panels = {}, {}
    for figure, setup in figures.items():
        curves = distill_figure(p, figure, setup, device)
        write_json(DISTILL_PLOTS / f"{figure}.json", curves)
        metrics[figure] = {metric_key(c): {"gamma": c["gamma"], "accuracy": c["accuracy"]} for c in curves}
        panels[f"{figure[:6].capitalize()} {figure[6:]}: {title(setup['teacher'])} → {title(setup['student'])} "
               f"on {naming.title(setup['dataset'])}, β = {setup['beta']:g}, profile {p['profile']}"] = curves
    prune(DISTILLED, set(figures))
    prune(DISTILL_PLOTS, {f"{f}.json" for f in figures})
    write_json(DISTILL_METRICS, metrics)
    distillation_figure(panels, FIGURES / "distillation.png")
    return 0


if __name__ == "__main__":
    run(main)
