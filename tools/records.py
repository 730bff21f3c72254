"""A snapshot's records: re-keyed on evidence, more seeds, per-example predictions, split sizes.

    python tools/records.py retrain PROFILE RUN... --into DIR   # retrain sample runs with today's code, compare
    python tools/records.py rekey PROFILE --evidence DIR/evidence.json --why TEXT   # today's keys, on that evidence
    python tools/records.py add-params PROFILE --why TEXT      # parameters added since, at values that change no run
    python tools/records.py seeds PROFILE --prefix models/classifiers/ --seeds 3 4 --into DIR [--commit]
                                                     # more seeds of recorded settings, as records; tables refreshed
    python tools/records.py seeds PROFILE --prefix models/teachers/ models/students/ --piece table4_seed ...
    python tools/records.py predictions PROFILE --prefix models/teachers/ --piece NAME --into DIR [--commit]
                                                     # records without predictions retrained; given them if equal
    python tools/records.py sizes PROFILE DIR        # split sizes into records lacking them, from DIR/<dataset>.pt
                                                     # files whose sha256 is the record's data_sha256

Each trains with today's code on the recorded data (`dvc repro preprocess` first) into a resumable folder, and
writes only results/<profile>/; a snapshot's pieces are run by tools/results.py.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.results import ROOT, commit_paths, head  # noqa: E402


def rekey_command(a) -> int:
    """``retrain``: evidence.json in the folder; ``rekey``: re-key the snapshot on that evidence; ``add-params``."""
    from pipeline.io import write_json
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.rekey import add_params, rekey, retrain
    snap = ROOT / "results" / a.profile
    try:
        if a.cmd == "retrain":
            rows = retrain(snap, a.runs, a.into.resolve())
            write_json(a.into / "evidence.json", rows)
            for e in rows:
                print(f"{e['run']}: " + ("every compared metric equal to its record" if not e["differs"]
                                         else f"differs: {e['differs']}"))
            return 0 if not any(e["differs"] for e in rows) else 1
        commit = head()
        import yaml  # params as written (load_params adds the resolved profile, which no snapshot records)
        today = yaml.safe_load((ROOT / "params.yaml").read_text())
        if a.cmd == "add-params":
            added = add_params(snap, today, commit, a.why)
            print(f"results/{a.profile}: " + (", ".join(f"{k} = {v}" for k, v in added.items()) or "no parameter")
                  + " added to its params")
            return 0
        from pipeline.snapshots.records import read_checked
        n = rekey(snap, read_checked(a.evidence, list), commit, a.why, today,
                  read_checked(a.baseline, list) if a.baseline else None)
        print(f"results/{a.profile}: {n} record(s) re-keyed; the evidence is in provenance.json under 'rekeyed'")
        return 0
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def seeds_command(a) -> int:
    """Each seed in turn: its runs as records, the seed recorded as a piece, the tables refreshed, a commit."""
    from pipeline.allocator import keep_freed_memory
    from pipeline.io import write_json
    from pipeline.snapshots.machine import machine
    from pipeline.snapshots.records import SnapshotError, read_provenance, read_records
    from pipeline.snapshots.seeds import add_seeds, check_piece_name, note_piece, refresh_tables, seeds_of_every_setting
    from pipeline.snapshots.writer import render
    keep_freed_memory()
    snap = ROOT / "results" / a.profile
    commit = head()
    how = "records: {} settings at seed {}, trained with today's code (tools/records.py seeds)"
    try:
        for s in a.seeds:
            check_piece_name(snap, f"{a.piece}{s}", how.format(" ".join(a.prefix), s))
        for s in a.seeds:
            t0 = time.time()
            added = add_seeds(snap, a.prefix, [s], a.into.resolve(), log=lambda m: print(m, flush=True))
            prov = read_provenance(snap / "provenance.json")
            section = prov["params"]["profiles"][prov["profile"]]
            seeds_now = seeds_of_every_setting(read_records(snap / "runs.json"))
            section |= {k: v for k, v in seeds_now.items() if v}
            write_json(snap / "provenance.json", prov)
            note_piece(snap, f"{a.piece}{s}", how.format(" ".join(a.prefix), s), len(added),
                       round(time.time() - t0), commit, {k: section[k] for k in seeds_now})
            refresh_tables(snap)
            render(snap)
            print(f"seed {s}: {len(added)} run(s) added in {round(time.time() - t0)} s", flush=True)
            if a.commit:
                commit_paths([str(snap)], f"results/{a.profile}: seed {s} of {' '.join(a.prefix)} ({len(added)} "
                             f"runs, {round(time.time() - t0)} s on {machine('cpu')['cpu']})")
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def predictions_command(a) -> int:
    """Records without per-example predictions, retrained and given them where they reproduce; one piece."""
    from pipeline.allocator import keep_freed_memory
    from pipeline.snapshots.backfill import backfill
    from pipeline.snapshots.machine import machine
    from pipeline.snapshots.records import SnapshotError, read_records
    from pipeline.snapshots.seeds import check_piece_name, note_piece
    keep_freed_memory()
    snap, t0, rc = ROOT / "results" / a.profile, time.time(), 0

    def without_predictions() -> set[str]:
        return {r["run"] for r in read_records(snap / "runs.json") if "predictions" not in r}
    how = (f"predictions: records under {' '.join(a.prefix)} retrained with today's code, each equal to its record "
           "in every compared metric (tools/records.py predictions)")
    try:
        check_piece_name(snap, a.piece, how)
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    before = without_predictions()
    try:
        for m, names in backfill(snap, a.prefix, a.into.resolve()):
            print(f"{names[0]}: reproduced ({m.get('seconds')} s); predictions added to {len(names)} record(s)",
                  flush=True)
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        rc = 2
    finally:  # what was done is recorded, whatever stopped the call (an interrupt is then main()'s one line)
        given = before - without_predictions()
        if given:
            note_piece(snap, a.piece, how, len(given), round(time.time() - t0), head(), {})
            if a.commit:
                commit_paths([str(snap)], f"results/{a.profile}: per-example predictions of {len(given)} records "
                             f"under {' '.join(a.prefix)} ({round(time.time() - t0)} s on {machine('cpu')['cpu']})")
    return rc


def sizes_command(a) -> int:
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.writer import add_sizes
    try:
        print(f"{add_sizes(ROOT / 'results' / a.profile, a.prepared_dir)} record(s) given their split sizes")
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


COMMANDS = {"retrain": "rekey_command", "rekey": "rekey_command", "add-params": "rekey_command",
            "seeds": "seeds_command", "predictions": "predictions_command", "sizes": "sizes_command"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sz = sub.add_parser("sizes", help="add split sizes to a snapshot's records from verified prepared data files")
    sz.add_argument("profile")
    sz.add_argument("prepared_dir", type=Path)
    rt = sub.add_parser("retrain", help="retrain sample runs of a snapshot with today's code and compare them with "
                                        "their records (evidence for rekey)")
    rt.add_argument("profile")
    rt.add_argument("runs", nargs="+", help="record names, e.g. models/classifiers/fcn/mnist/alpha_0.1_seed_0")
    rt.add_argument("--into", type=Path, required=True, help="a folder for the retrained runs")
    rk = sub.add_parser("rekey", help="give every record today's key, on the evidence of `retrain`")
    rk.add_argument("profile")
    rk.add_argument("--evidence", type=Path, required=True, help="the evidence.json that `retrain` wrote")
    rk.add_argument("--why", required=True, help="what changed the keys (written into provenance.json)")
    rk.add_argument("--baseline", type=Path,
                    help="on another CPU class: evidence.json of the same sample retrained here with the records' "
                         "code (`retrain` in a checkout of their commit); today's must equal it byte for byte")
    ap_ = sub.add_parser("add-params", help="write parameters added since the snapshot into its params at today's "
                         "values: only for defaults that leave every run configuration as it was")
    ap_.add_argument("profile")
    ap_.add_argument("--why", required=True, help="what the parameters are (written into provenance.json)")
    sd = sub.add_parser("seeds", help="train more seeds of a snapshot's recorded settings and add their records")
    sd.add_argument("profile")
    sd.add_argument("--prefix", required=True, nargs="+",
                    help="the settings' run folders start with one of these (a student's with its teacher's)")
    sd.add_argument("--piece", default="seed", help="the provenance piece is named this and the seed (seed3)")
    sd.add_argument("--seeds", type=int, nargs="+", required=True)
    sd.add_argument("--into", type=Path, required=True, help="a folder for the runs trained here (resumable)")
    sd.add_argument("--commit", action="store_true", help="commit results/<profile> after each seed")
    pr = sub.add_parser("predictions", help="retrain records that lack per-example predictions; add them where the "
                                            "retraining reproduces the record")
    pr.add_argument("profile")
    pr.add_argument("--prefix", required=True, nargs="+", help="records whose run folder starts with one of these")
    pr.add_argument("--piece", required=True, help="the provenance piece's name")
    pr.add_argument("--into", type=Path, required=True, help="a folder for the runs trained here (resumable)")
    pr.add_argument("--commit", action="store_true", help="commit results/<profile> at the end")
    a = ap.parse_args()
    from pipeline.stage import stop_on_sigterm
    stop_on_sigterm()  # `kill` or a time limit stops these long commands as Ctrl-C does
    try:
        return globals()[COMMANDS[a.cmd]](a)
    except KeyboardInterrupt:  # results/<profile> is rewritten after every run: the finished ones are kept
        kept = ("every finished run is kept (in --into, and as a record where the command adds them) and the run in "
                "progress resumes from its checkpoint" if a.cmd in ("retrain", "seeds", "predictions") else
                f"every file of results/{a.profile} is whole (each is replaced at once)")
        print(f"interrupted: {kept}; run the same command again to go on", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
