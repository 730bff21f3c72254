"""bf16 against fp32 on sample runs of a snapshot, each difference beside the spread over the snapshot's seeds.

The snapshot's FCNs train under bf16 autocast (``execution.precision: auto`` on a CPU with native bf16); the
papers trained in fp32. Each sampled run is trained again in fp32 with today's code, its seed and its
configuration (a student against its own teacher, trained as recorded), and every metric of its record is
compared with the bf16 record: the difference, the sample std of that metric over the snapshot's seeds of the
same configuration, and their ratio. A difference within one seed std is noise at the snapshot's seed count.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from .records import SnapshotError, read_provenance, read_records
from .rekey import require_current, snapshot_settings, teacher_chain, train_as_recorded

METRICS = ("test_acc", "test_nll", "test_ece", "test_ece_ts", "temperature")


def setting_of(r: dict, by_key: dict[str, dict]) -> dict:
    """``r``'s configuration without its seed, its teacher replaced by the teacher's setting: the same for every
    seed of one setting (a student at seed s learns from its teacher at seed s, whose key differs)."""
    cfg = {k: v for k, v in r["config"].items() if k != "seed"}
    if cfg.get("teacher"):
        if cfg["teacher"] not in by_key:
            raise SnapshotError(f"{r['run']}'s teacher {cfg['teacher']} has no record")
        cfg["teacher"] = setting_of(by_key[cfg["teacher"]], by_key)
    return cfg


def with_spread(row: dict, records: list[dict]) -> dict:
    """``row`` with n_seeds, the std of each metric over the records of its run's setting (one per seed, ddof 1)
    and |bf16 − fp32| in those stds, as the records stand now."""
    by_key = {r["key"]: r for r in records}
    r = next(x for x in records if x["run"] == row["run"])
    setting = setting_of(r, by_key)
    seeds = list({x["config"]["seed"]: x for x in records if setting_of(x, by_key) == setting}.values())
    row = row | {"n_seeds": len(seeds), "seed_std": {}, "in_seed_stds": {}}
    for k in METRICS:
        std = statistics.stdev([x[k] for x in seeds]) if len(seeds) > 1 else None
        row["seed_std"][k] = std
        row["in_seed_stds"][k] = abs(row["bf16_minus_fp32"][k]) / std if std else None
    return row


def respread(snapshot: Path, result: dict) -> dict:
    """``result`` (precision.json) with every row's seed spread recomputed from the snapshot's records as they
    stand: after more seeds were recorded, without training again."""
    records = read_records(snapshot / "runs.json")
    return result | {"runs": [with_spread(row, records) for row in result["runs"]]}


def compare(snapshot: Path, runs: list[str], work: Path, n_bins: int = 15) -> dict:
    """{rule, runs: [...]}: one row per named record, trained again in fp32 under ``work``."""
    records = read_records(snapshot / "runs.json")
    settings = snapshot_settings(read_provenance(snapshot / "provenance.json"))
    by_run, by_key = {r["run"]: r for r in records}, {r["key"]: r for r in records}
    rows = []
    for name in runs:
        if name not in by_run:
            raise SnapshotError(f"{snapshot / 'runs.json'} has no record {name}")
        require_current([by_run[name]], "bf16 against fp32")
        teacher_key, teacher = None, None
        for r in teacher_chain(by_run[name], by_key)[:-1]:  # its teachers as recorded (bf16): the student changes
            cfg = r["config"] | ({"teacher": teacher_key} if teacher_key else {})
            m, _ = train_as_recorded(r, cfg, work, settings, r["execution"], teacher, n_bins)
            teacher_key, teacher = m["key"], r
        r = by_run[name]
        cfg = r["config"] | ({"teacher": teacher_key} if teacher_key else {})
        m, fp32 = train_as_recorded(r, cfg, work, settings, r["execution"] | {"precision": "fp32"}, teacher, n_bins)
        rows.append(with_spread({"run": name, "seed": r["config"]["seed"], "fp32_seconds": m.get("seconds"),
                                 "bf16": {k: r[k] for k in METRICS}, "fp32": {k: fp32[k] for k in METRICS},
                                 "bf16_minus_fp32": {k: r[k] - fp32[k] for k in METRICS}}, records))
    return {"rule": "bf16 − fp32 for one seed, against the sample std of the same metric over the snapshot's "
                    "seeds of that configuration (ddof 1); |difference| ≤ 1 std is within the seed noise",
            "runs": rows}


def table(result: dict) -> str:
    """A Markdown table of ``compare``'s rows, for docs/results.md."""
    lines = ["| run (seed) | metric | bf16 | fp32 | bf16 − fp32 | seed std (n) | in stds |",
             "|---|---|---|---|---|---|---|"]
    for row in result["runs"]:
        for k in METRICS:
            std = row["seed_std"][k]
            lines.append(f"| {row['run'].split('models/')[-1]} ({row['seed']}) | {k} | {row['bf16'][k]:.5g} | "
                         f"{row['fp32'][k]:.5g} | {row['bf16_minus_fp32'][k]:+.5f} | "
                         + (f"{std:.5f} ({row['n_seeds']})" if std else "—") + " | "
                         + (f"{row['in_seed_stds'][k]:.1f}" if row["in_seed_stds"][k] is not None else "—") + " |")
    return "\n".join(lines)
