"""Which runs of a results snapshot today's code and params would train differently.

A run's key hashes its configuration, its execution, the prepared data and the
numerics code (pipeline/training/run_key.py). Each snapshot record keeps the first
three, so the key can be recomputed with today's code without the data: a run
whose recomputed key differs is *stale* (a training file changed). Separately,
the profile's params at the snapshot's commit are compared with today's
params.yaml: a changed value means some runs would be configured differently.
Staleness is reported, never an error: a snapshot stays a faithful record of
the commit it names.
"""
from __future__ import annotations

from pathlib import Path

from ..imports import ROOT

SECTIONS = ("alpha", "sweep", "data", "fcn", "convnets", "calibrate", "project", "distill", "execution",
            "translation")
# Execution settings that are in no run key: where runs train, and how many examples an evaluation batch holds
# (in eval mode each example's logits are a function of that example alone).
WHERE = ("backend", "jobs_dir", "local", "slurm", "eval_batch_size")


def load_snapshot(snapshot: Path) -> tuple[list[dict], dict]:
    """(run records, provenance) of a snapshot, each checked (pipeline/snapshots/records.py)."""
    from .records import read_provenance, read_records
    return read_records(snapshot / "runs.json"), read_provenance(snapshot / "provenance.json")


def _diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}".lstrip("."))]
    return [] if a == b else [path]


def stale_runs(snapshot: Path) -> tuple[list[dict], list[str], int]:
    """(stale records, changed param keys, number of runs) of one snapshot."""
    from ..training.run_key import key_of

    records, prov = load_snapshot(snapshot)
    stale = [r for r in records if key_of(r["config"], r["data_sha256"], r["execution"]) != r["key"]]
    from ..config import yaml12  # params as DVC reads them (YAML 1.2)
    today = yaml12.load((ROOT / "params.yaml").read_text())
    then, profile = dict(prov["params"]), prov["profile"]
    # `train:` was renamed `execution:`; where runs train (backend, jobs_dir, local, slurm) changes no run
    then["execution"] = then.pop("execution", None) or then.pop("train", None)
    today["execution"], then["execution"] = ({k: v for k, v in (d or {}).items() if k not in WHERE}
                                             for d in (today.get("execution"), then["execution"]))
    changed = [k for s in SECTIONS for k in _diff({s: then.get(s)}, {s: today.get(s)})]
    changed += _diff({f"profiles.{profile}": then["profiles"][profile]},
                     {f"profiles.{profile}": today["profiles"].get(profile)})
    if not prov.get("complete"):  # pieces set the profile's params; only the whole profile must match today's
        changed = [k for k in changed if not k.startswith(f"profiles.{profile}")]
    return stale, changed, len(records)


def status_table(snapshot: Path) -> str:
    from .records import distinct_trainings
    stale, changed, n = stale_runs(snapshot)
    records, prov = load_snapshot(snapshot)
    if n == 0:  # never "complete", and nothing can match today's code
        return f"`results/{snapshot.name}`: **no runs recorded**, commit `{prov['commit'][:10]}`: nothing to check."
    state = "complete" if prov.get("complete") else "partial (pieces: " + ", ".join(prov.get("pieces", {})) + ")"
    distinct = distinct_trainings(records)
    rekeyed = prov.get("rekeyed") or []
    since = (f" (re-keyed at `{rekeyed[-1]['commit'][:10]}` on {len(rekeyed[-1]['evidence'])} retrained runs)"
             if rekeyed else "")
    pred = sum("predictions" in r for r in records)  # what recomputes its tables and any paired test
    preds = "each with its per-example test predictions" if pred == n else f"{pred} with per-example test predictions"
    lines = [f"`results/{snapshot.name}`: {n} runs ({distinct} distinct trainings; {preds}), {state}, "
             f"commit `{prov['commit'][:10]}`{since}: "
             + ("**every run matches today's training code**" if not stale else
                f"**{len(stale)} of {n} runs are stale** (their key changed with the training code)")
             + ("; params unchanged." if not changed else "; params changed since: " + ", ".join(changed[:8])
                + (" …" if len(changed) > 8 else "") + ".")]
    return "\n".join(lines)
