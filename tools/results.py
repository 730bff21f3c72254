"""Reference results: run a profile at scale in pieces, and keep each piece as a snapshot under results/<profile>/.

    python tools/results.py run PROFILE [--commit]   # every piece of results/PROFILE/plan.yaml not yet done
    python tools/results.py snapshot PROFILE         # rewrite the snapshot from the work tree's outputs
    python tools/results.py status [PROFILE]         # which snapshot runs today's code and params would retrain
    python tools/results.py render PROFILE           # claims, tables' figure links, figures, from the snapshot alone

Records are added to a snapshot, or re-keyed, by tools/records.py.

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


def head(cwd: Path = ROOT) -> str:
    return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=cwd, text=True).strip()


def commit_paths(paths: list[str], message: str) -> None:
    """Commit ``paths``, new files in them included, and nothing else. A SIGTERM meanwhile waits for the commit:
    interrupted, Python would kill git at once and could leave .git/index.lock behind."""
    import signal
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        subprocess.run(["git", "add", *paths], cwd=ROOT, check=True)
        subprocess.run(["git", "commit", "-q", "-m", message, "--", *paths], cwd=ROOT, check=False)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def work_tree(profile: str, commit: str | None) -> Path:
    """`.results/<profile>`: a detached work tree at ``commit`` (created once; later pieces reuse it)."""
    work = ROOT / ".results" / profile
    if not work.exists():
        work.parent.mkdir(exist_ok=True)
        rev = commit or head()
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
        commit = head(work)
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
            commit_paths(paths, f"results/{profile}: piece {name} ({seconds} s)")
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
    rd = sub.add_parser("readme", help="regenerate README.md's block for a snapshot (claims and status)")
    rd.add_argument("profile")
    a = ap.parse_args()
    if a.cmd == "readme":
        return 0 if update_readme(a.profile) else 2
    if a.cmd == "run":
        return run(a.profile, a.commit)
    from pipeline.snapshots.records import SnapshotError
    from pipeline.snapshots.staleness import status_table
    from pipeline.snapshots.writer import render, write_snapshot
    if a.cmd == "render":
        from pipeline.snapshots.seeds import refresh_tables
        try:
            refresh_tables(ROOT / "results" / a.profile)  # the tables from the records, then the pages from them
            render(ROOT / "results" / a.profile)
        except SnapshotError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
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
