"""The distillation claims of claims.md: Table 4 (better model, worse teacher) and Figure 7 (matched γ).

Per-seed numbers come from the snapshot's records (run folders name the point and the seed); Figure 7's γ
(the teacher's smoothness index) from its tables.json.
"""
from __future__ import annotations

from collections import defaultdict

from ..formulas import verdict as V
from .claims_text import interval, pm, verdict_cell
from .reference import TABLE4_DISTILLATION


def _seedless(run: str) -> str:
    return run.rsplit("_seed_", 1)[0]


def _own_or(groups: list[list[float]], fallback: V.Pooled | None, source: str) -> V.Pooled | None:
    """The claim's own pooled variance where its points have repeated seeds, else the declared fallback."""
    return V.pooled(groups, source) or fallback


def claim_table4(records: list[dict], mnist: V.Pooled | None) -> tuple[list[str], dict]:
    err = defaultdict(list)
    for r in records:
        parts = r["run"].split("/")
        if parts[1] == "teachers":
            err[(parts[2], "teacher")].append(100 - r["test_acc"])
        elif parts[1] == "students":
            err[(parts[2], _seedless(parts[3]))].append(100 - r["test_acc"])
    if not err:
        return [], {}
    sp = _own_or(list(err.values()), mnist, "test error of Table 4's own runs, pooled over its groups")
    res = V.holm({"table4/ls_teacher_better": V.compare(err[("dropout", "teacher")], err[("ls", "teacher")], -1, sp),
                  "table4/ls_student_worse": V.compare(err[("dropout", "logits")], err[("ls", "logits")], +1, sp)})
    mu, rep = TABLE4_DISTILLATION["muller"], TABLE4_DISTILLATION["replication"]
    rows = [("dropout teacher", ("dropout", "teacher"), mu["dropout"][0], rep["dropout"][0]),
            ("LS teacher (α=0.1)", ("ls", "teacher"), mu["label_smoothing"][0], rep["label_smoothing"][0]),
            ("student of dropout teacher", ("dropout", "logits"), mu["dropout"][1], rep["dropout"][1]),
            ("student of LS teacher", ("ls", "logits"), mu["label_smoothing"][1], rep["label_smoothing"][1])]
    lines = ["## 4. A label-smoothed teacher is a better model but a worse teacher (Table 4, MNIST)", "",
             "Claimed by Müller et al. (Table 4); the replication agrees. Test error in %. Students: FCN 800-800 "
             "regressing the teacher's logits (0.4·CE + 0.6·½‖z_s − z_t‖²). Family: the two comparisons (Holm).", "",
             "| | ours | Müller | replication |", "|---|---|---|---|"]
    lines += [f"| {name} | {pm(*V.stats(err[k]))} | {m} | {r} |" for name, k, m, r in rows]
    if err.get(("dropout", "probabilities")):
        probs = [pm(*V.stats(err[(t, "probabilities")])) for t in ("dropout", "ls")]
        lines.append(f"| student regressing probabilities (the replication's defect), dropout / LS teacher | "
                     f"{probs[0]} / {probs[1]} | — | — |")
    b, w = res["table4/ls_teacher_better"], res["table4/ls_student_worse"]
    how = (f" Single-seed sides use the declared pooled std s_p = {sp.std:.4f} on ν = {sp.df} ({sp.source})."
           if "pooled" in (b["method"], w["method"]) and sp else "")
    lines += ["", f"- LS teacher better than the dropout teacher: {b['effect']:+.2f} points of error, "
              f"{interval(b)} — {verdict_cell(b)} (Müller −0.08, replication −0.12).",
              f"- Its student worse: {w['effect']:+.2f} points, {interval(w)} — {verdict_cell(w)} "
              f"(Müller +0.17, replication +0.12).{how}", ""]
    return lines, res


def figure7_points(records: list[dict], tables: dict) -> tuple[dict, dict]:
    """({T: (γ, [acc per seed])} of M3, {α: (γ, [acc per seed])} of M4) from the records and tables.json."""
    accs = defaultdict(list)
    for r in records:
        if r["run"].startswith("models/distilled/figure7/"):
            accs[_seedless(r["run"].split("/")[-1])].append(r["test_acc"])
    m3, m4 = {}, {}
    for k, g in tables.items():
        parts = k.split("/")
        if len(parts) != 4 or parts[0] != "figure7" or parts[3] != "gamma" or parts[1] not in ("M3", "M4"):
            continue
        v = float(parts[2].split("=")[1])
        name = f"m3_T_{v:g}" if parts[1] == "M3" else f"m4_alpha_{v:g}"
        if accs.get(name):
            (m3 if parts[1] == "M3" else m4)[v] = (g, accs[name])
    return m3, m4


def claim_figure7(records: list[dict], tables: dict, mnist: V.Pooled | None) -> tuple[list[str], dict]:
    m3, m4 = figure7_points(records, tables)
    title = ("## 5. At matched γ, students of temperature-scaled hard-label teachers beat students of "
             "label-smoothed teachers (Figure 7, MNIST)")
    if len(m3) < 2 or not m4:
        return [title, "", "Not testable in this snapshot: it needs at least two M3 temperatures and one "
                "label-smoothed teacher.", ""], {}
    sp = _own_or([a for _, a in (*m3.values(), *m4.values())], mnist,
                 "test accuracy of Figure 7's own points, pooled over its groups")
    curve = sorted(m3.values())
    tests, info = {}, {}
    for alpha, (g, acc) in sorted(m4.items()):
        key = f"figure7/M4/alpha={alpha:g}"
        if not curve[0][0] <= g <= curve[-1][0]:
            info[key] = {"gamma": g, "verdict": V.INCONCLUSIVE, "why": "outside M3's γ range"}
            continue
        i = max(j for j in range(len(curve) - 1) if curve[j][0] <= g)
        (g0, a0), (g1, a1) = curve[i], curve[i + 1]
        w = (g - g0) / (g1 - g0) if g1 > g0 else 0.0
        # B − A = M3(γ) − M4 with M3(γ) = (1−w)·mean(a0) + w·mean(a1): Var = s²·((1−w)²/n0 + w²/n1 + 1/n4).
        m3_at = [(1 - w) * sum(a0) / len(a0) + w * sum(a1) / len(a1)]
        factor = (1 - w) ** 2 / len(a0) + w ** 2 / len(a1) + 1 / len(acc)
        tests[key] = V.compare(acc, m3_at, +1, sp, var_factor=factor) | {"gamma": g}
    res = V.holm(tests) | info
    n = sorted({len(a) for _, a in (*m3.values(), *m4.values())})
    lines = [title, "", "Claimed by Müller et al. (Figure 7, CIFAR-10 ResNet-56 → AlexNet there); the replication "
             f"agrees from its figure. Seeds per point: {', '.join(map(str, n))}. M3's accuracy is interpolated "
             "linearly in γ at each M4 point's γ; its variance follows from the interpolation weights. "
             + (f"Std: s_p = {sp.std:.4f} on ν = {sp.df} ({sp.source}). " if sp else "")
             + "Family: the M4 points inside M3's γ range (Holm).", "",
             "| M4 teacher α | γ | M4 accuracy | M3 at that γ | M3 − M4 | 95 % interval (Holm level) | p (Holm) | "
             "verdict |", "|---|---|---|---|---|---|---|---|"]
    for key, c in sorted(res.items()):
        a = key.split("=")[1]
        if "effect" not in c:
            lines.append(f"| {a} | {c['gamma']:.3f} | — | {c['why']} | — | — | — | — |")
            continue
        p = "—" if c.get("p_holm") is None else f"{c['p_holm']:.3g}"
        lines.append(f"| {a} | {c['gamma']:.3f} | {c['a']:.2f} | {c['b']:.2f} | {c['effect']:+.2f} | {interval(c)} | "
                     f"{p} | {verdict_cell(c)} |")
    verdict = V.overall([c["verdict"] for c in res.values()])
    res["figure7/overall"] = {"verdict": verdict, "points": len(tests)}
    lines += ["", f"Overall (reproduced if some point is and none is contradicted): **{verdict}**.", ""]
    return lines, res
