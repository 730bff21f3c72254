"""Reference results: run a profile at scale in pieces, and keep each piece as a snapshot under results/<profile>/.

    python tools/results.py run PROFILE [--commit]   # every piece of results/PROFILE/plan.yaml not yet done
    python tools/results.py snapshot PROFILE         # rewrite the snapshot from the work tree's outputs
    python tools/results.py status [PROFILE]         # which snapshot runs today's code and params would retrain
    python tools/results.py render PROFILE           # claims, tables' figure links, figures, from the snapshot alone
    python tools/results.py sizes PROFILE DIR        # split sizes into records lacking them, from DIR/<dataset>.pt
                                                     # files whose sha256 is the record's data_sha256
    python tools/results.py retrain PROFILE RUN... --into DIR   # retrain sample runs with today's code, compare
    python tools/results.py rekey PROFILE --evidence DIR/evidence.json --why TEXT   # today's keys, on that evidence
    python tools/results.py seeds PROFILE --prefix models/classifiers/ --seeds 3 4 --into DIR [--commit]
                                                     # more seeds of recorded settings, as records; tables refreshed
    python tools/results.py seeds PROFILE --prefix models/teachers/ models/students/ --piece table4_seed ...

The profile runs in its own git work tree, `.results/<profile>/` (ignored), checked
out at the commit the snapshot started from, so the default results in the
workspace are never touched. A piece is one `dvc repro` of the profile with the
piece's params (pieces are cumulative, pipeline/snapshots/plan.py: the last one is the whole profile); finished
runs are reused by key, so each piece trains only what it adds, and an interrupted
piece resumes where it stopped. After each piece the snapshot is rewritten and, with
--commit, committed on its own: a stop loses at most one piece.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sh(cmd: list[str], cwd: Path, env: dict | None = None, log=None) -> int:
    return subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT if log else None).returncode


def work_tree(profile: str, commit: str | None) -> Path:
    """`.results/<profile>`: a detached work tree at ``commit`` (created once; later pieces reuse it)."""
    work = ROOT / ".results" / profile
    if not work.exists():
        work.parent.mkdir(exist_ok=True)
        rev = commit or subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
        if sh(["git", "worktree", "add", "--detach", str(work), rev], ROOT) != 0:
            sys.exit("error: could not create the work tree " + str(work))
    return work


def run(profile: str, commit_each: bool) -> int:
    out = ROOT / "results" / profile
    from pipeline.config import yaml12  # params as DVC reads them (YAML 1.2)
    from pipeline.snapshots.machine import machine
    from pipeline.snapshots.plan import load_plan, piece_params, plan_file
    try:
        plan = load_plan(plan_file(profile, ROOT, gpu=False), "cumulative")
    except ValueError as e:
        sys.exit(f"error: {e}")
    prov_file = out / "provenance.json"
    prov = json.loads(prov_file.read_text()) if prov_file.exists() else {}
    work = work_tree(profile, prov.get("commit"))
    prov.setdefault("pieces", {})
    env = {**os.environ, "PIPELINE_RUN_LOG": str(work / "run_times.jsonl"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for i, piece in enumerate(plan["pieces"]):
        name = piece["name"]
        if prov["pieces"].get(name, {}).get("done"):
            continue
        # the work tree's commit: moved forward by hand (git -C .results/<profile> checkout) only when
        # the training code's run keys are unchanged, so every piece's runs stay valid
        commit = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=work, text=True).strip()
        base = yaml12.load(subprocess.check_output(["git", "show", f"{commit}:params.yaml"], cwd=ROOT, text=True))
        params = piece_params(base, plan, piece)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        print(f"[{dt.datetime.now():%H:%M}] piece {name}: dvc repro in {work}", flush=True)
        t0 = time.time()
        with open(work / f"piece_{name}.log", "a") as log:
            rc = sh(["dvc", "repro"], work, env, log)
        seconds = round(time.time() - t0)
        prev = prov["pieces"].get(name, {})
        prov["pieces"][name] = {"done": rc == 0, "seconds": prev.get("seconds", 0) + seconds,
                                "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                "set": piece.get("set", {}), "commit": commit}
        prov |= {"profile": profile, "machine": machine(params["execution"]["device"]), "commit": commit,
                 "params": params, "complete": False,
                 "total_seconds": sum(p["seconds"] for p in prov["pieces"].values())}
        if rc != 0:
            prov_file.write_text(json.dumps(prov, indent=2) + "\n")
            print(f"error: piece {name} failed (exit {rc}); see {work / f'piece_{name}.log'}", file=sys.stderr)
            return 2
        if params["profiles"][profile] == base["profiles"][profile]:
            prov["complete"] = True
        prov_file.write_text(json.dumps(prov, indent=2) + "\n")
        # a fresh process: the snapshot code may have changed while the pieces ran
        if sh([sys.executable, str(Path(__file__).resolve()), "snapshot", profile], ROOT) != 0:
            print(f"warning: the snapshot of piece {name} failed; rerun `tools/results.py snapshot {profile}`")
        print(f"[{dt.datetime.now():%H:%M}] piece {name} done in {seconds} s; snapshot in {out}", flush=True)
        paths = [str(out)]
        clean = sh(["git", "diff", "--quiet", "--", "README.md"], ROOT) == 0
        if clean and sh([sys.executable, str(Path(__file__).resolve()), "readme", profile], ROOT) == 0:
            paths.append("README.md")  # its results block, regenerated (skipped while README has other edits)
        if commit_each:
            subprocess.run(["git", "add", *paths], cwd=ROOT, check=True)
            subprocess.run(["git", "commit", "-q", "-m", f"results/{profile}: piece {name} ({seconds} s)", "--",
                            *paths], cwd=ROOT, check=False)
    return 0


def readme_block(profile: str) -> str:
    from pipeline.reporting.claims_readme import summary
    from pipeline.snapshots.staleness import status_table
    snap = ROOT / "results" / profile
    flat = json.loads((snap / "claims.json").read_text())
    return (f"<!-- results:{profile}:begin (generated: python tools/results.py readme {profile}) -->\n"
            + summary(flat, profile) + "\n\n" + status_table(snap) + f"\n<!-- results:{profile}:end -->")


def update_readme(profile: str) -> bool:
    """Replace README.md's generated block for ``profile``; False if the README has no such block."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    begin, end = f"<!-- results:{profile}:begin", f"<!-- results:{profile}:end -->"
    if begin not in text or end not in text:
        return False
    i, j = text.index(begin), text.index(end) + len(end)
    readme.write_text(text[:i] + readme_block(profile) + text[j:])
    return True


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
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
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
    from pipeline.snapshots.seeds import add_seeds, refresh_tables, seeds_of_every_setting
    from pipeline.snapshots.writer import render
    keep_freed_memory()
    snap = ROOT / "results" / a.profile
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    try:
        for s in a.seeds:
            t0 = time.time()
            added = add_seeds(snap, a.prefix, [s], a.into.resolve(), log=lambda m: print(m, flush=True))
            prov = read_provenance(snap / "provenance.json")
            section = prov["params"]["profiles"][prov["profile"]]
            seeds_now = seeds_of_every_setting(read_records(snap / "runs.json"))
            section |= {k: v for k, v in seeds_now.items() if v}
            piece = f"{a.piece}{s}"
            prev = prov["pieces"].get(piece, {})
            prov["pieces"][piece] = {
                "done": True, "seconds": prev.get("seconds", 0) + round(time.time() - t0), "commit": commit,
                "set": {k: section[k] for k in seeds_now}, "machine": machine("cpu"),
                "how": f"records: {' '.join(a.prefix)} settings at seed {s}, trained with today's code "
                       "(tools/results.py seeds)",
                "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "runs": len(added) + prev.get("runs", 0)}
            prov["total_seconds"] = sum(p["seconds"] for p in prov["pieces"].values())
            write_json(snap / "provenance.json", prov)
            refresh_tables(snap)
            render(snap)
            print(f"seed {s}: {len(added)} run(s) added in {round(time.time() - t0)} s", flush=True)
            if a.commit:
                subprocess.run(["git", "add", str(snap)], cwd=ROOT, check=True)
                subprocess.run(["git", "commit", "-q", "-m", f"results/{a.profile}: seed {s} of {' '.join(a.prefix)} "
                                f"({len(added)} runs, {round(time.time() - t0)} s on {machine('cpu')['cpu']})",
                                "--", str(snap)], cwd=ROOT, check=False)
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("profile")
    r.add_argument("--commit", action="store_true", help="commit results/<profile> after each piece")
    s = sub.add_parser("snapshot")
    s.add_argument("profile")
    st = sub.add_parser("status")
    st.add_argument("profile", nargs="?")
    cl = sub.add_parser("render", help="rewrite a snapshot's tables, claims and figures from its own files")
    cl.add_argument("profile")
    sz = sub.add_parser("sizes", help="add split sizes to a snapshot's records from verified prepared data files")
    sz.add_argument("profile")
    sz.add_argument("prepared_dir", type=Path)
    rd = sub.add_parser("readme", help="regenerate README.md's block for a snapshot (claims and status)")
    rd.add_argument("profile")
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
    a = ap.parse_args()
    if a.cmd == "readme":
        return 0 if update_readme(a.profile) else 2
    if a.cmd == "run":
        return run(a.profile, a.commit)
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.staleness import status_table
    from pipeline.snapshots.writer import add_sizes, render, write_snapshot
    if a.cmd == "sizes":
        try:
            print(f"{add_sizes(ROOT / 'results' / a.profile, a.prepared_dir)} record(s) given their split sizes")
        except SnapshotError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if a.cmd == "render":
        from pipeline.snapshots.seeds import refresh_tables
        try:
            refresh_tables(ROOT / "results" / a.profile)  # the tables from the records, then the pages from them
            render(ROOT / "results" / a.profile)
        except SnapshotError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if a.cmd in ("retrain", "rekey", "add-params"):
        return rekey_command(a)
    if a.cmd == "seeds":
        return seeds_command(a)
    if a.cmd == "snapshot":
        out = ROOT / "results" / a.profile
        write_snapshot(ROOT / ".results" / a.profile, out, json.loads((out / "provenance.json").read_text()))
        return 0
    profiles = [a.profile] if a.profile else sorted(p.name for p in (ROOT / "results").iterdir()
                                                    if (p / "runs.json").exists())
    for prof in profiles:
        try:
            print(status_table(ROOT / "results" / prof))
        except SnapshotError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
