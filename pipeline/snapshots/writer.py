"""A results snapshot: what a profile's run produced, copied out of its work tree with one record per run.

results/<profile>/
  tables.md, tables.json    the pipeline's tables (tables.json: flat, declared as DVC metrics)
  figures/*.png              the pipeline's figures
  runs.json                  one record per run: key, configuration, metrics, execution, wall time, split sizes
  predictions/<run>.npz      each run's per-example test predictions (write_predictions), digest in its record
  claims.md, claims.json     Müller et al.'s claims, this snapshot's numbers, verdicts (pipeline/reporting/claims.py)
  provenance.json            commit, params, machine, date, pieces and wall times (tools/results.py)
  plan.yaml                  the pieces (hand-written)
"""
from __future__ import annotations

import json
import shutil
from io import BytesIO
from pathlib import Path

import numpy as np

from ..formulas import reliability as cal
from ..io import _atomic, file_digests, load_tensors, read_json, write_json, write_text
from ..layout import RUN_ROOTS
from .pages import FIGURES, figures_at_scale, own_tables, redraw_figure7, replace_unscaled


def wall_times(work: Path) -> dict[str, dict]:
    """{run folder: last log line} from the run-time log the pieces wrote."""
    log = work / "run_times.jsonl"
    out = {}
    if log.exists():
        for line in log.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                out[row["run_dir"]] = row
    return out


def split_sizes(prepared_file: Path) -> dict[str, int]:
    """{train, val, test}: the number of examples of each split in a prepared data file."""
    t = load_tensors(prepared_file)
    return {s: int(t[f"{s}_y"].shape[0]) for s in ("train", "val", "test")}


def run_sizes(config: dict, prepared: dict[str, int]) -> dict[str, int]:
    """The examples a run trained on and was measured on (its training subset, if it had one, or its training and
    validation images for a run that trained on both)."""
    cap = config.get("max_train_examples")
    n = min(prepared["train"], cap) if cap else prepared["train"]
    return prepared | {"train": n + (prepared["val"] if config.get("train_on_validation") else 0)}


def write_predictions(out: Path, rel: str, zt, yt) -> dict:
    """predictions/<run>.npz: per test example its label, predicted class, top-label confidence and true-class
    probability (uint16, uint16, float16, float16: about 6 bytes an example), enough for any paired test and for
    accuracy, ECE and reliability diagrams at T = 1; returns {file, sha256} for the record."""
    p = zt.double().softmax(1)
    conf, pred = p.max(1)
    buf = BytesIO()
    np.savez_compressed(buf, label=yt.numpy().astype(np.uint16), pred=pred.numpy().astype(np.uint16),
                        confidence=conf.numpy().astype(np.float16),
                        p_true=p.gather(1, yt.view(-1, 1)).view(-1).numpy().astype(np.float16))
    rel_file = f"predictions/{rel}.npz"
    (out / rel_file).parent.mkdir(parents=True, exist_ok=True)
    _atomic(out / rel_file, lambda f: f.write_bytes(buf.getvalue()))
    return {"file": rel_file, "sha256": file_digests(out / rel_file)["sha256"]}


def run_record(work: Path, run: Path, times: dict, data: dict, n_bins: int, predictions_to: Path | None = None
               ) -> dict:
    m = read_json(run / "metrics.json")
    rel = run.relative_to(work).as_posix()
    logits = load_tensors(run / "logits.pt")
    zt, yt, zv, yv = logits["test_logits"], logits["test_labels"], logits["val_logits"], logits["val_labels"]
    t = cal.fit_temperature(zv.double(), yv).temperature
    ds = m["config"]["dataset"]
    if ds not in data:
        pt = work / "data" / "prepared" / f"{ds}.pt"
        data[ds] = (file_digests(pt)["sha256"], split_sizes(pt))
    conf, correct = cal.top_label(zt, yt)
    timing = times.get(rel, {})
    extra = {"predictions": write_predictions(predictions_to, rel, zt, yt)} if predictions_to else {}
    return {"run": rel, "key": m["key"], "config": m["config"], "execution": m["execution"],
            "data_sha256": data[ds][0], "sizes": run_sizes(m["config"], data[ds][1]), **extra,
            "test_acc": round(m["test_acc"], 4), "test_nll": round(m["test_nll"], 5),
            "val_acc": round(m["val_acc"], 4),
            "test_ece": round(cal.ece_from_logits(zt, yt, 1.0, n_bins), 5),
            "temperature": round(t, 5), "test_ece_ts": round(cal.ece_from_logits(zt, yt, t, n_bins), 5),
            "test_nll_ts": round(cal.nll(zt.double(), yt, t), 5),
            "test_confidence_gap": round((conf.mean() - correct.mean()).item(), 5),  # < 0: under-confident
            "seconds": timing.get("seconds"), "device": timing.get("device"), "torch": timing.get("torch")}


def collect_runs(work: Path, n_bins: int, predictions_to: Path | None = None) -> list[dict]:
    """One record per finished run of the work tree; with ``predictions_to``, each run's per-example test
    predictions are written under it too (``write_predictions``)."""
    times, data, records = wall_times(work), {}, []
    for root in RUN_ROOTS:
        for mfile in sorted((work / root).rglob("metrics.json")):
            records.append(run_record(work, mfile.parent, times, data, n_bins, predictions_to))
    return records


def write_tables_and_claims(out: Path, md: str, flat: dict, records: list[dict], prov: dict) -> None:
    """tables.md/.json and claims.md/.json of a snapshot: what both ways of running pieces write
    (``write_snapshot`` from a work tree; pipeline/gpu_session/fold.py from a GPU session's merged pieces)."""
    from ..reporting.claims import claims
    write_text(out / "tables.md", md)
    write_json(out / "tables.json", flat)
    cmd, cflat = claims(records, flat, prov)
    write_text(out / "claims.md", cmd)
    write_json(out / "claims.json", cflat)


def at_scale(out: Path) -> tuple[str, ...]:
    """The figures the snapshot's plan makes at its stated scale (all, without a plan)."""
    from .plan import load_plan
    plan = out / "plan.yaml"
    return figures_at_scale(load_plan(plan)) if plan.exists() else FIGURES


def add_sizes(snap: Path, prepared_dir: Path) -> int:
    """Give the records of ``snap`` that lack them their split sizes, read from prepared data files whose
    sha256 is the record's ``data_sha256`` (refused otherwise); the number of records completed."""
    from .records import SnapshotError, read_records
    records, sizes, done = read_records(snap / "runs.json"), {}, 0
    for r in records:
        if "sizes" in r:
            continue
        done += 1
        if r["data_sha256"] not in sizes:
            pt = Path(prepared_dir) / f"{r['config']['dataset']}.pt"
            if not pt.exists() or file_digests(pt)["sha256"] != r["data_sha256"]:
                raise SnapshotError(f"{pt}: missing, or not the data file of {r['run']} (sha256 "
                                    f"{r['data_sha256'][:12]}…): prepare it with the snapshot's commit first")
            sizes[r["data_sha256"]] = split_sizes(pt)
        r["sizes"] = run_sizes(r["config"], sizes[r["data_sha256"]])
    write_json(snap / "runs.json", records)
    return done


def render(snap: Path) -> None:
    """Claims, tables.md's figure links and the figures not run at scale, again from the snapshot's own files
    (after a change of the claims, their rule or the figures); Figure 7 is redrawn from the records."""
    from ..reporting.claims import claims
    from .records import read_checked, read_provenance, read_records
    records, tables, prov = (read_records(snap / "runs.json"), read_checked(snap / "tables.json", dict),
                             read_provenance(snap / "provenance.json"))
    cmd, cflat = claims(records, tables, prov)
    write_text(snap / "claims.md", cmd)
    write_json(snap / "claims.json", cflat)
    scaled = at_scale(snap)
    write_text(snap / "tables.md", own_tables((snap / "tables.md").read_text(), prov["profile"], scaled))
    replace_unscaled(snap / "figures", prov["profile"], scaled)
    if "distillation" in scaled:
        redraw_figure7(records, tables, prov, snap / "figures" / "distillation.png")


def write_snapshot(work: Path, out: Path, prov: dict) -> None:
    """Rewrite ``out`` from the work tree ``work`` (after a piece of the profile has run there)."""
    out.mkdir(parents=True, exist_ok=True)
    figs = out / "figures"
    if figs.exists():
        shutil.rmtree(figs)
    shutil.copytree(work / "plots" / "figures", figs)
    scaled = at_scale(out)
    replace_unscaled(figs, prov["profile"], scaled)
    n_bins = prov["params"]["calibrate"]["n_bins"]
    if (out / "predictions").exists():
        shutil.rmtree(out / "predictions")
    records = collect_runs(work, n_bins, out)  # not under no_grad: the temperature fit differentiates
    write_json(out / "runs.json", records)
    metrics = work / "metrics"
    write_tables_and_claims(out, own_tables((metrics / "tables.md").read_text(), prov["profile"], scaled),
                            read_json(metrics / "tables.json"), records, prov)
    write_json(out / "provenance.json", prov)
