"""More seeds for a snapshot's settings, added as records, without its old work tree.

A snapshot's runs are not kept (only their records), and its settings are fixed by its records: the
configuration of a seed-0 record with another ``seed`` is that setting's run at that seed (a student's, with its
teacher at that seed). ``add_seeds``
trains those runs with today's code (the keys must match the snapshot's: ``make results-status``), each exactly
as the setting's records were trained (execution, data of the recorded sha256, the snapshot's batch settings),
and appends its record, with its per-example test predictions, to runs.json after every run: an interrupted call
loses at most the run in progress, and a second call trains only what is missing. Seeds go outermost, so a cut
leaves every setting with the same number of seeds but the last.

``refresh_tables`` then recomputes what of tables.md and tables.json the records determine (Table 2, the
head-to-head comparison, Table 3 and its per-setting detail, Table 4, Figure 7's table, the profile line) and
leaves the rest.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from ..io import read_json, write_json
from .records import SnapshotError, read_provenance, read_records
from .rekey import require_current, snapshot_settings, teacher_chain, train_as_recorded


def seed_name(run: str, seed: int) -> str:
    """The run folder of ``run``'s setting at ``seed`` (…/alpha_0.1_seed_0, …/teachers/ls/seed_0)."""
    return re.sub(r"(?<=[_/])seed_\d+$", f"seed_{seed}", run)


def planned(records: list[dict], prefixes: list[str], seeds: list[int]) -> list[tuple[dict, int]]:
    """(template record, seed) of every run to add: the seed-0 settings under ``prefixes``, seeds outermost, and
    within a seed every teacher before its students (a student at seed s learns from its teacher at seed s)."""
    if isinstance(prefixes, str):
        raise TypeError("prefixes: a list of run-folder prefixes")
    have = {r["run"] for r in records}
    by_key = {r.get("key"): r for r in records}
    templates = sorted((r for r in records if r["run"].startswith(tuple(prefixes)) and r["config"]["seed"] == 0),
                       key=lambda r: (len(teacher_chain(r, by_key)), r["run"]))
    return [(t, s) for s in seeds for t in templates if seed_name(t["run"], s) not in have]


def add_seeds(snapshot: Path, prefixes: list[str], seeds: list[int], work: Path, n_bins: int = 15,
              log=print) -> list[dict]:
    """Train and record every missing run of ``seeds`` for the settings under ``prefixes``; the records added.

    A student's teacher at the new seed must be recorded (added earlier in this call or before), and is trained
    again under ``work`` if its folder is not there (``train_runs`` reuses it when it is)."""
    settings = snapshot_settings(read_provenance(snapshot / "provenance.json"))
    records = read_records(snapshot / "runs.json")
    tables = read_json(snapshot / "tables.json") if (snapshot / "tables.json").exists() else {}
    if (with_gamma := gammas_from_tables(records, tables)) != records:
        write_json(snapshot / "runs.json", with_gamma)  # before a second seed makes seed 0's γ unknowable
    todo = planned(with_gamma, prefixes, seeds)
    require_current([t for t, _ in todo], "new seeds averaged with its seeds")
    added = []
    for t, s in todo:
        records = read_records(snapshot / "runs.json")
        name, cfg, teacher = seed_name(t["run"], s), t["config"] | {"seed": s}, None
        if t["config"].get("teacher"):
            teacher = _teacher_at(records, t, s)
            in_work(records, teacher, work, settings, n_bins)
            cfg |= {"teacher": teacher["key"]}
        m, rec = train_as_recorded(t | {"run": name, "config": cfg}, cfg, work, settings, t["execution"], teacher,
                                   n_bins, predictions_to=snapshot)
        rec |= {"seconds": m.get("seconds"), "device": "cpu", "torch": torch.__version__}
        if teacher and cfg["loss"]["kind"] == "soft_targets":  # Figure 7's x: its teacher's γ at its T
            rec["gamma"] = student_gamma(cfg, work / teacher["run"])
        records = read_records(snapshot / "runs.json")  # again: nothing another writer added is lost
        write_json(snapshot / "runs.json", records + [rec])
        added.append(rec)
        log(f"{name}: test accuracy {rec['test_acc']:.2f} %, {rec['seconds']} s")
    return added


def check_piece_name(snapshot: Path, piece: str, how: str) -> None:
    """Refuse a piece name that the snapshot holds for other work (a plan piece, or another tool's piece): its
    seconds and runs would be added to theirs. The same work resumed under its name is fine."""
    prev = read_provenance(snapshot / "provenance.json")["pieces"].get(piece)
    def work(h: str | None) -> str | None:  # the tool's name aside (it moved from tools/results.py)
        return h.split(" (tools/")[0] if h else h
    if prev is not None and work(prev.get("how")) != work(how):
        raise SnapshotError(f"{snapshot / 'provenance.json'} already has a piece {piece!r} for other work "
                            f"({prev.get('how') or 'a piece of its plan'}): name this one differently (--piece)")


def note_piece(snapshot: Path, piece: str, how: str, runs: int, seconds: int, commit: str, sets: dict) -> None:
    """Record in provenance.json a piece done outside the plan (``how``: what it did and with which tool), adding
    ``seconds`` and ``runs`` to what an interrupted earlier call of it recorded, with this machine and commit."""
    import datetime as dt

    from .machine import machine
    check_piece_name(snapshot, piece, how)
    prov = read_provenance(snapshot / "provenance.json")
    prev = prov["pieces"].get(piece, {})
    prov["pieces"][piece] = {
        "done": True, "seconds": prev.get("seconds", 0) + seconds, "commit": commit, "set": sets,
        "machine": machine("cpu"), "how": how, "runs": runs + prev.get("runs", 0),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    prov["total_seconds"] = sum(p["seconds"] for p in prov["pieces"].values())
    write_json(snapshot / "provenance.json", prov)


def teacher_record(records: list[dict], r: dict) -> dict | None:
    t = r["config"].get("teacher")
    return next(x for x in records if x["key"] == t) if t else None


SEED_GROUPS = {"seeds": ("models/classifiers/",),
               "distill_seeds": ("models/teachers/", "models/students/", "models/sweep_teachers/", "models/distilled/")}


def seeds_of_every_setting(records: list[dict]) -> dict[str, list[int]]:
    """{profile key: the seeds every recorded setting of its runs has}: the profile's ``seeds`` and
    ``distill_seeds`` as the records stand (a key whose settings differ in seeds keeps the common ones)."""
    out = {}
    for key, prefixes in SEED_GROUPS.items():
        by_setting: dict[str, set[int]] = {}
        for r in records:
            if r["run"].startswith(prefixes):
                by_setting.setdefault(seed_name(r["run"], 0), set()).add(r["config"]["seed"])
        out[key] = sorted(set.intersection(*by_setting.values())) if by_setting else []
    return out


def student_gamma(cfg: dict, teacher_dir: Path) -> float:
    """The smoothness index γ of a soft-target student's teacher at the student's temperature, over the training
    examples it was distilled on, as the distill stage computes Figure 7's x (each seed's teacher its own γ)."""
    from ..data import prepared
    from ..formulas.smoothness import smoothness_index
    from ..training.run import TEACHER_BATCH, teacher_logits
    data, _ = prepared.load(cfg["dataset"])
    n = cfg.get("max_train_examples") or len(data["train_x"])
    z = teacher_logits(teacher_dir, cfg["dataset"], data["train_x"][:n], torch.device("cpu"), TEACHER_BATCH)
    return round(smoothness_index(z, data["train_y"][:n], cfg["loss"]["temperature"]), 6)


def gammas_from_tables(records: list[dict], tables: dict) -> list[dict]:
    """The records with ``gamma`` on every Figure 7 M3/M4 student, taken from tables.json where the snapshot has
    one seed of each (its γ is then that seed's): the per-seed γ that more seeds are averaged with."""
    if {r["config"]["seed"] for r in records if r["run"].startswith(SEED_GROUPS["distill_seeds"])} != {0}:
        return records
    out = []
    for r in records:
        m = re.fullmatch(r"models/distilled/figure7/(m3_T|m4_alpha)_([0-9.]+)_seed_0", r["run"])
        key = m and f"figure7/{'M3/temperature' if m[1] == 'm3_T' else 'M4/alpha'}={float(m[2]):g}/gamma"
        if m and "gamma" not in r and key in tables:
            r = r | {"gamma": tables[key]}
        out.append(r)
    return out


def in_work(records: list[dict], r: dict, work: Path, settings: dict, n_bins: int) -> None:
    """Record ``r``'s run finished under ``work`` (its teachers first), with the recorded key."""
    teacher = teacher_record(records, r)
    if teacher:
        in_work(records, teacher, work, settings, n_bins)
    m, _ = train_as_recorded(r, r["config"], work, settings, r["execution"], teacher, n_bins)
    if m["key"] != r["key"]:
        raise SnapshotError(f"{r['run']} trains under key {m['key']} today, not its recorded {r['key']}")


def _teacher_at(records: list[dict], student: dict, seed: int) -> dict:
    """The record of ``student``'s teacher setting at ``seed``."""
    name = seed_name(teacher_record(records, student)["run"], seed)
    found = [r for r in records if r["run"] == name]
    if not found:
        raise SnapshotError(f"{student['run']} at seed {seed} needs its teacher {name}, which has no record: "
                            "add the teachers' seeds first (their prefix with the students')")
    return found[0]


def summaries(records: list[dict], p: dict) -> tuple[dict, dict]:
    """(train, calibration) per model, dataset and α, as the train and calibrate stages summarise seeds, from the
    records of Table 2's runs (models/classifiers/<model>/<dataset>/alpha_<α>_seed_<s>)."""
    from ..config import alphas_to_train, classifiers
    from ..formulas.spread import mean_std
    from ..layout import alpha_key
    train: dict = {}
    cal: dict = {}
    for arch, ds in classifiers(p):
        t, c = train.setdefault(arch, {}).setdefault(ds, {}), cal.setdefault(arch, {}).setdefault(ds, {})
        for a in alphas_to_train(p, arch):
            pattern = re.compile(rf"models/classifiers/{arch}/{ds}/{re.escape(alpha_key(a))}_seed_\d+")
            rs = [r for r in records if pattern.fullmatch(r["run"])]
            acc, acc_std = mean_std([r["test_acc"] for r in rs], 4)
            t[alpha_key(a)] = {"test_acc": acc, "test_acc_std": acc_std, "n_seeds": len(rs)}
            c[alpha_key(a)] = {"n_seeds": len(rs)}
            for k in ("test_ece", "test_ece_ts", "temperature", "test_nll", "test_nll_ts"):
                c[alpha_key(a)][k], std = mean_std([r[k] for r in rs], 5)
                if k in ("test_ece", "test_ece_ts", "temperature") and len(rs) > 1:
                    c[alpha_key(a)][k + "_std"] = std
        hard, ls = t[alpha_key(0.0)], t[alpha_key(p["alpha"])]
        t["head_to_head"] = {"alpha": p["alpha"], "hard_test_acc": hard["test_acc"], "ls_test_acc": ls["test_acc"],
                             "delta": round(ls["test_acc"] - hard["test_acc"], 4)}
    return train, cal


def table4_summary(records: list[dict], p: dict) -> dict:
    """{teacher name: the student stage's Table 4 metrics}, from the records of models/teachers/<name>/seed_<s> and
    models/students/<name>/<target>_seed_<s>."""
    from ..formulas.spread import test_error
    out = {}
    for name in p["distill"]["table4"]["teachers"]:
        teachers = [r for r in records if re.fullmatch(rf"models/teachers/{name}/seed_\d+", r["run"])]
        out[name] = {"teacher": test_error(teachers), "n_seeds": len(teachers)}
        for v in ("logits", "probabilities"):
            students = [r for r in records if re.fullmatch(rf"models/students/{name}/{v}_seed_\d+", r["run"])]
            if students:
                out[name][f"student_{v}"] = test_error(students)
    return out


def refresh_tables(snapshot: Path) -> None:
    """Rewrite the profile line, Table 2, the head-to-head comparison, Table 3, Table 4 and Figure 7's table of
    tables.md, and their keys in tables.json, from the records and the provenance's params (its seeds); the other
    sections stay."""
    from ..config import validate
    from ..io import read_json, write_text
    from ..reporting.distillation import points_metrics, points_table, table4
    from ..reporting.paper_tables import CLASSIFIER_SECTIONS, classifier_sections
    from .pages import figure7_points, own_tables
    from .writer import at_scale
    prov = read_provenance(snapshot / "provenance.json")
    p = validate(prov["params"])
    records = read_records(snapshot / "runs.json")
    parts, flat = classifier_sections(p, *summaries(records, p))
    md = (snapshot / "tables.md").read_text()
    start, end = (md.index(h) for h in CLASSIFIER_SECTIONS)
    # the profile line keeps its words (some name the data the work tree had), with today's seeds
    head = re.sub(r"seeds \[[0-9, ]*\]", f"seeds {p['active']['seeds']}", md[:start], count=1)
    md = head + "\n\n".join(parts) + "\n\n" + md[end:]
    t4 = {}
    if any(r["run"].startswith("models/teachers/") for r in records):  # Table 4's table, from its records
        start = md.index("## Table 4")
        start = md.index("| teacher | source |", start)
        end = md.index("\n\n## ", start)
        table, t4 = table4(p, table4_summary(records, p))
        md = md[:start] + table + md[end:]
    tables = read_json(snapshot / "tables.json")
    f7 = {}
    if (points := figure7_points(records, tables)) and "## Figure 7" in md:  # Figure 7's table, from its records
        start = md.index("| curve | teacher α", md.index("## Figure 7"))
        end = md.index("\n\n## ", start)
        md = md[:start] + points_table(points) + md[end:]
        f7 = points_metrics("figure7", points)
    write_text(snapshot / "tables.md", own_tables(md, prov["profile"], at_scale(snapshot)))
    redone = ("table2", "table3", "head_to_head") + (("table4",) if t4 else ()) + (("figure7",) if f7 else ())
    stale = [k for k in tables if k.split("/")[0] in redone]
    write_json(snapshot / "tables.json", {k: v for k, v in tables.items() if k not in stale} | flat | t4 | f7)
