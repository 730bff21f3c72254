"""Re-keying a snapshot after a change of the key's code, only on evidence that the numbers did not change.

A run's key hashes its numerics code (pipeline/training/run_key.py), so moving that code (a refactor)
makes every snapshot run stale although it would train the same bytes. The way out is evidence, not trust:

1. ``retrain``: retrain a sample of the snapshot's runs with today's code, each as recorded (configuration,
   resolved execution, data of the recorded sha256; a student against its teacher retrained first), and
   compare every metric of its record, at the record's precision, with the recorded one;
2. ``rekey``: only if every sampled run matches, and the sample covers each kind of run the plan requires
   (``REQUIRED``), give every record today's key (a student's ``config.teacher`` follows its teacher's new
   key) and write the evidence into provenance.json under ``rekeyed``.

Retraining the whole snapshot is what this avoids; a single differing metric stops it.
"""
from __future__ import annotations

import copy
import datetime
import hashlib
from pathlib import Path

import torch

from ..io import write_json
from ..training.backend import Job, train_runs
from ..training.dispatch import CLASSIFIER_TRAINER
from ..training.run_key import data_file, file_sha256, key_of, kind
from .records import SnapshotError, read_provenance, read_records
from .writer import run_record, split_sizes

# Each must be in a sample: (what, a folder prefix of its run).
REQUIRED = (("a Table 2 FCN", "models/classifiers/"), ("a Table 4 student", "models/students/"),
            ("a Figure 7 student", "models/distilled/"))
COMPARED = ("test_acc", "test_nll", "val_acc", "test_ece", "temperature", "test_ece_ts", "test_nll_ts",
            "test_confidence_gap")
SETTINGS = {"log_every": 25, "checkpoint_every": 200, "eval_batch_size": 512, "backend": "inline", "stack_max": 16}


def snapshot_settings(prov: dict) -> dict:
    """The execution settings the snapshot's runs trained under (its params; ``train:`` in older snapshots),
    with what it leaves out from ``SETTINGS``: batch sizes and cadences change a run's float rounding."""
    params = prov.get("params") or {}
    section = params.get("execution") or params.get("train") or {}
    return SETTINGS | {k: section[k] for k in ("log_every", "checkpoint_every", "eval_batch_size") if k in section}


def require_current(records: list[dict], what: str) -> None:
    """Refuse records keyed by other code than today's: new runs of today's code beside them would mix code drift
    into what is compared (more seeds of a setting, bf16 against fp32)."""
    stale = sorted({r["run"] for r in records if key_of(r["config"], r["data_sha256"], r["execution"]) != r["key"]})
    if stale:
        raise SnapshotError(f"{', '.join(stale)}: trained with other code than today's (the key differs), so {what} "
                            "would mix code changes in; re-key the snapshot on evidence first (tools/records.py "
                            "retrain, rekey)")


def teacher_chain(record: dict, by_key: dict[str, dict]) -> list[dict]:
    """The record after its teachers, the first teacher first."""
    chain = [record]
    while (t := chain[0]["config"].get("teacher")) is not None:
        if t not in by_key:
            raise SnapshotError(f"record {chain[0]['run']} names a teacher key {t} that no record has")
        chain.insert(0, by_key[t])
    return chain


def train_as_recorded(r: dict, cfg: dict, work: Path, settings: dict, execution: dict, teacher: dict | None,
                      n_bins: int, predictions_to: Path | None = None) -> tuple[dict, dict]:
    """(run metrics, a record as the snapshot writer makes it) of record ``r`` trained under ``work`` with today's
    code, its configuration ``cfg`` and the resolved ``execution``; the data must be the recorded file."""
    have = file_sha256(data_file(cfg)) if data_file(cfg).exists() else "missing"
    if have != r["data_sha256"]:
        raise SnapshotError(f"{data_file(cfg)} ({have}) is not the data of record {r['run']} "
                            f"({r['data_sha256']}): run `dvc repro preprocess` on the snapshot's params")
    name = r["run"] + ("" if execution == r["execution"] else "_" + execution["precision"])
    job = Job(work / name, cfg, work / teacher["run"] if teacher else None)
    m = train_runs([job], torch.device("cpu"), settings | execution, CLASSIFIER_TRAINER)[0]
    if m["execution"] != execution:
        raise SnapshotError(f"{r['run']}: this machine resolves its execution to {m['execution']}, not {execution}")
    data = {cfg["dataset"]: (r["data_sha256"], split_sizes(data_file(cfg)))}
    return m, run_record(work, work / name, {}, data, n_bins, predictions_to)


def retrain(snapshot: Path, runs: list[str], work: Path, n_bins: int = 15) -> list[dict]:
    """Retrain ``runs`` (record names) and their teachers under ``work`` with today's code; one evidence row each.

    The prepared data files (data/prepared/, from `dvc repro preprocess`) must be the recorded ones."""
    records = read_records(snapshot / "runs.json")
    settings = snapshot_settings(read_provenance(snapshot / "provenance.json"))
    by_run, by_key = {r["run"]: r for r in records}, {r["key"]: r for r in records}
    missing = [r for r in runs if r not in by_run]
    if missing:
        raise SnapshotError(f"{snapshot / 'runs.json'} has no record {', '.join(missing)}")
    new_key: dict[str, str] = {}
    rows: dict[str, dict] = {}
    for name in runs:
        for r in teacher_chain(by_run[name], by_key):
            if r["run"] in rows:
                continue
            if kind(r["config"], r["execution"]) != "classifier":
                raise SnapshotError(f"{r['run']} is a {kind(r['config'], r['execution'])} run; retrain trains "
                                    "classifiers one at a time, as recorded")
            cfg = r["config"] | ({"teacher": new_key[r["config"]["teacher"]]} if r["config"].get("teacher") else {})
            m, now = train_as_recorded(r, cfg, work, settings, r["execution"], by_key.get(r["config"].get("teacher")),
                                       n_bins)
            new_key[r["key"]] = m["key"]
            rows[r["run"]] = {"run": r["run"], "key_before": r["key"], "key": m["key"],
                              "differs": {f: [r.get(f), now.get(f)] for f in COMPARED if r.get(f) != now.get(f)},
                              "compared": list(COMPARED), "metrics": {f: now.get(f) for f in COMPARED},
                              "trained_seconds": m.get("seconds"),
                              "logits_sha256": hashlib.sha256((work / r["run"] / "logits.pt").read_bytes()
                                                              ).hexdigest()}
    return list(rows.values())


def rekeyed_records(records: list[dict]) -> list[dict]:
    """Every record with today's key; a student's teacher key follows its teacher's (teachers first)."""
    old = {r["key"]: r for r in records}
    new: dict[str, str] = {}

    def today(key: str) -> str:
        if key not in new:
            r = old[key]
            t = r["config"].get("teacher")
            cfg = r["config"] | ({"teacher": today(t)} if t in old else {})
            new[key] = key_of(cfg, r["data_sha256"], r["execution"])
        return new[key]

    out = []
    for r in records:
        t = r["config"].get("teacher")
        out.append(r | {"key": today(r["key"]), "config": r["config"] | ({"teacher": today(t)} if t in old else {})})
    return out


def params_added(recorded: dict, today: dict, at: str = "") -> dict:
    """{dotted key: today's value} of each parameter in ``today`` that ``recorded`` (a snapshot's params) lacks:
    parameters added since, at their defaults. Nothing recorded is changed or removed."""
    out = {}
    for k, v in today.items():
        if k not in recorded:
            out[at + k] = v
        elif isinstance(v, dict) and isinstance(recorded[k], dict):
            out |= params_added(recorded[k], v, f"{at}{k}.")
    return out


def _with_params(recorded: dict, added: dict) -> dict:
    out = copy.deepcopy(recorded)
    for dotted, v in added.items():
        *up, last = dotted.split(".")
        node = out
        for k in up:
            node = node[k]
        node[last] = v
    return out


def add_params(snapshot: Path, params: dict, commit: str, note: str) -> dict:
    """Write the parameters added since the snapshot (``params_added``) into its params at today's values, with
    ``note`` under ``params_added`` in provenance.json; the ones added. For parameters whose defaults leave every
    run configuration as it was (tests pin that for each), so that no run changes and no key either."""
    prov = read_provenance(snapshot / "provenance.json")
    added = params_added(prov.get("params") or {}, params)
    if added:
        prov["params"] = _with_params(prov.get("params") or {}, added)
        prov.setdefault("params_added", []).append({"date": datetime.date.today().isoformat(), "commit": commit,
                                                    "why": note, "params": added})
        write_json(snapshot / "provenance.json", prov)
    return added


def _rows_ok(rows) -> bool:
    return isinstance(rows, list) and all(
        isinstance(e, dict) and isinstance(e.get("run"), str) and isinstance(e.get("key"), str)
        and isinstance(e.get("key_before"), str) and isinstance(e.get("metrics"), dict) for e in rows)


def _differs_from_baseline(evidence: list[dict], baseline: list[dict], by_run: dict[str, dict]) -> dict:
    """{run: what differs} between each sampled run retrained with today's code and the same run retrained on
    the same machine with the records' code (the baseline: its key is the record's); logits included."""
    base = {b["run"]: b for b in baseline}
    missing = [e["run"] for e in evidence if e["run"] not in base]
    if missing:
        raise SnapshotError(f"not re-keyed: the baseline has no row for {', '.join(missing)}")
    other = [e["run"] for e in evidence if base[e["run"]]["key"] != by_run[e["run"]]["key"]]
    if other:
        raise SnapshotError(f"not re-keyed: the baseline of {', '.join(other)} was not trained with the records' "
                            "code (its key is not the record's): retrain it in a checkout of the records' commit")
    out = {}
    for e in evidence:
        b = base[e["run"]]
        d = {f: [b["metrics"].get(f), e["metrics"].get(f)] for f in COMPARED
             if b["metrics"].get(f) != e["metrics"].get(f)}
        if b.get("logits_sha256") != e.get("logits_sha256") or not e.get("logits_sha256"):
            d["logits_sha256"] = [b.get("logits_sha256"), e.get("logits_sha256")]
        out[e["run"]] = d
    return out


def rekey(snapshot: Path, evidence: list[dict], commit: str, note: str, params: dict | None = None,
          baseline: list[dict] | None = None) -> int:
    """Give every record today's key if ``evidence`` shows the sample reproduced; returns the number re-keyed.

    The evidence is checked against the snapshot as it is now, not trusted: each row must name a record by its
    current key (``key_before``), its retrained metrics must equal the record's, its key must be today's, and the
    sample must hold every kind of run (``run_key.kind`` and model) the snapshot records. A refusal writes nothing.

    ``baseline`` (another CPU class, whose float rounding differs from the records' machine): the same sample
    retrained here with the records' code (rows of ``retrain`` run in a checkout of the records' commit, each
    key the record's). Today's code must then give every compared metric and the logits byte for byte as the
    records' code gives them on this machine: the change of code changes no number; how far this machine is
    from the records is kept in the evidence (``machine_differs``).

    ``params`` (today's params.yaml as written): parameters added since the snapshot go into its params at
    today's values, listed under ``params_added``. That is sound for a parameter whose default leaves every run
    configuration as it was, which the sample's unchanged metrics and ``make results-status`` then show.
    """
    if not _rows_ok(evidence) or (baseline is not None and not _rows_ok(baseline)):
        raise SnapshotError("not re-keyed: the evidence is not what `tools/records.py retrain` writes (a list of "
                            "rows with run, key_before, key and metrics)")
    records = read_records(snapshot / "runs.json")
    by_run = {r["run"]: r for r in records}
    unknown = [e["run"] for e in evidence if e["run"] not in by_run]
    if unknown:
        raise SnapshotError(f"not re-keyed: the evidence names runs the snapshot does not record: {', '.join(unknown)}")
    moved = [e["run"] for e in evidence if by_run[e["run"]]["key"] != e["key_before"]]
    if moved:
        raise SnapshotError(f"not re-keyed: the records of {', '.join(moved)} are not the ones the evidence was made "
                            "against (their keys differ); retrain the sample again")
    differs = {e["run"]: {f: [by_run[e["run"]].get(f), e["metrics"].get(f)] for f in COMPARED
                          if by_run[e["run"]].get(f) != e["metrics"].get(f)} for e in evidence}
    if baseline is not None:
        machine, differs = differs, _differs_from_baseline(evidence, baseline, by_run)
    bad = {run: d for run, d in differs.items() if d}
    if bad:
        raise SnapshotError(f"not re-keyed: {', '.join(bad)} differ from "
                            + ("the records' code on this machine" if baseline is not None else "their records")
                            + f" ({bad})")
    lacking = [what for what, prefix in REQUIRED if not any(e["run"].startswith(prefix) for e in evidence)]
    kinds = {(kind(r["config"], r["execution"]), r["config"]["arch"]) for r in records}
    sampled = {(kind(by_run[e["run"]]["config"], by_run[e["run"]]["execution"]), by_run[e["run"]]["config"]["arch"])
               for e in evidence}
    lacking += [f"a {k} {arch} run" for k, arch in sorted(kinds - sampled)]
    if lacking:
        raise SnapshotError(f"not re-keyed: the sample lacks {', '.join(lacking)}")
    out = rekeyed_records(records)
    today = {r["run"]: r["key"] for r in out}
    stale = [e["run"] for e in evidence if today[e["run"]] != e["key"]]
    if stale:
        raise SnapshotError(f"not re-keyed: the evidence for {', '.join(stale)} was made with other code than "
                            "today's (its key differs from today's); retrain the sample again")
    prov = read_provenance(snapshot / "provenance.json")
    changed = sum(a["key"] != b["key"] for a, b in zip(records, out))
    added = params_added(prov.get("params") or {}, params or {})
    if added:
        prov["params"] = _with_params(prov.get("params") or {}, added)
    prov.setdefault("rekeyed", []).append({
        "date": datetime.date.today().isoformat(), "commit": commit, "records": changed, "why": note,
        **({"params_added": added} if added else {}),
        "rule": ("every compared metric of every sampled run equal to its record, at the record's precision"
                 if baseline is None else
                 "every compared metric and the logits of every sampled run equal, byte for byte, to the same run "
                 "trained on the same machine with the records' code (the baseline; this CPU's rounding differs "
                 "from the records' machine)")
                + "; the sample covers " + ", ".join(what for what, _ in REQUIRED) + " and every kind of run recorded",
        "evidence": evidence,
        **({"baseline": baseline, "machine_differs": machine} if baseline is not None else {})})
    # provenance first: a stop between the two writes leaves the old keys (stale, so rerun), never new keys
    # without their evidence
    write_json(snapshot / "provenance.json", prov)
    write_json(snapshot / "runs.json", out)
    return changed
