"""The import: fold what a GPU session returned into results/<profile>/, accumulating across sessions.

    python -m tools.gpu import PROFILE DIR     # DIR: the files the session wrote to $OUT

Every file is checked against the sha256 that session.json lists before it is read or extracted
(tar members with tarfile's `data` filter). Then, in results/<profile>/:
  runs.json            the run records, merged by run folder (a later session's record replaces one)
  pieces/<name>/       each finished piece's metrics/ and plots/distill/ (what its tables are made of)
  figures/<name>/      each finished piece's figures
  tables.md, .json     rendered by the pipeline's own tables code from the pieces' merged metrics
  claims.md, .json     pipeline/reporting/claims.py on the merged records
  provenance.json      the sessions (device, torch, date, deadline, pieces), the pieces done, the params
  gpu_sessions.md      per session: the self-test lines, the benchmark table, each piece's outcome
The resumable state of runs a deadline cut goes to .gpu/resume/ (ignored), where `pack` finds it.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..snapshots.plan import load_plan, merged_params, plan_file
from ..snapshots.returned import FoldError, verify

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("metrics/train.json", "metrics/calibration.json", "metrics/projection.json", "metrics/distill.json",
          "metrics/table4")


def merge_json(dst, src):
    """Deep merge of two pieces' metrics: the earlier (higher-priority) piece wins per leaf, so a later
    piece that also reruns an earlier experiment on fewer seeds (figure8's Figure 7 students) adds its
    own keys only; a 'skipped' stub never hides real numbers."""
    if isinstance(dst, dict) and isinstance(src, dict):
        if set(dst) == {"skipped"}:
            return copy.deepcopy(src)
        if set(src) == {"skipped"}:
            return dst
        out = dict(dst)
        for k, v in src.items():
            if k not in dst:
                out[k] = copy.deepcopy(v)
            elif isinstance(dst[k], dict):
                out[k] = merge_json(dst[k], v)
        return out
    return dst


def merged_tree(snap: Path, order: list[str], dst: Path) -> None:
    """metrics/ and plots/distill/ of the done pieces, merged in plan order, under ``dst``."""
    for name in order:
        piece = snap / "pieces" / name
        if not piece.exists():
            continue
        for f in sorted(piece.rglob("*.json")):
            rel = f.relative_to(piece)
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            new = json.loads(f.read_text())
            target.write_text(json.dumps(merge_json(json.loads(target.read_text()), new) if target.exists() else new))
    for rel, why in (("metrics/mutual_information.json", "not in a finished piece of the GPU plan yet"),
                     ("metrics/translation.json", "not in a finished piece of the GPU plan yet")):
        if not (dst / rel).exists():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            (dst / rel).write_text(json.dumps({"skipped": why}))


def render(snap: Path, raw_params: dict, order: list[str], records: list[dict], prov: dict) -> bool:
    """tables.md/.json and claims.md/.json from the merged pieces; False until the FCN metrics exist."""
    from ..config import validate
    from ..io import write_text
    from ..reporting.paper_tables import document
    from ..snapshots.writer import write_tables_and_claims
    with tempfile.TemporaryDirectory(prefix="fold.") as tmp:
        merged_tree(snap, order, Path(tmp))
        if not all((Path(tmp) / n).exists() for n in NEEDED):
            write_text(snap / "tables.md", "# Results\n\nNot yet: the tables need the piece that trains the FCN "
                       f"experiments (metrics {', '.join(NEEDED)}).\n")
            return False
        md, flat = document(validate(copy.deepcopy(raw_params)), Path(tmp))
    write_tables_and_claims(snap, md, flat, records, prov)
    return True


def sessions_md(sessions: list[dict]) -> str:
    out = ["# GPU sessions", "", "Written by `python -m tools.gpu import`; one section per session, newest last.", ""]
    for s in sessions:
        m = s["machine"]
        cores = m.get("cores", m.get("cpus"))  # "cpus" in sessions from before pipeline/snapshots/machine.py
        out += [f"## {s['started']}: {m.get('gpu') or f'CPU ({cores} cores)'}, torch {m['torch']}",
                "", f"Commit `{str(s.get('commit'))[:10]}`, deadline {s['deadline_s']:.0f} s, "
                f"{s['seconds']} s in all, {s['runs']} finished runs returned.", "", "Self-test:", ""]
        out += [f"- {'PASS' if r['ok'] else 'FAIL'} {r['check']}: {r['detail']}" for r in s["selftest"]] or ["- (none)"]
        b = s.get("benchmark")
        if b:
            bf16 = b.get("matmul_peak_bf16_flops")
            out += ["", f"Benchmark ({b['device']}; median of {b['repeats']} × {b['steps']} steps; "
                    + (f"bf16 matmul peak {bf16 / 1e12:.1f} TFLOP/s measured in the same run):" if bf16 else
                       "no native bf16, so no bf16 peak):"), "",
                    "| model | (a) replication | (b) project | (b)/(a) | (c) many at once | (c)/(a) | (b) TFLOP/s | "
                    "of bf16 peak |", "|---|---|---|---|---|---|---|---|"]
            for r in b["rows"]:
                c = f"{r['c']:,.0f}/s | {r['c_over_a']:.1f}×" if r["c"] else "— | —"
                out.append(f"| {r['model']} | {r['a']:,.0f}/s | {r['b']:,.0f}/s | {r['b_over_a']:.1f}× | {c} | "
                           f"{r['achieved_tflops_b']:.2f} | "
                           + (f"{r['of_bf16_peak_b']:.1%} |" if r.get("of_bf16_peak_b") is not None else "— |"))
            h = b["paper_profile_one_seed_hours"]
            out += ["", f"Projected paper profile, one seed: {h['project']:.2f} h with this project's paths, "
                    f"{h['replication_style']:.2f} h replication-style."]
        out += ["", "Pieces:", ""] + [f"- {p['name']}: {p['status']}" + (f" in {p['seconds']} s" if "seconds" in p
                                                                            else "") + (f" ({p['why']})" if p.get("why")
                                                                                        else "") for p in s["pieces"]]
        if s.get("resume_not_returned"):
            out += ["", "Unfinished runs too large to return (resumable on that machine only): "
                    + ", ".join(s["resume_not_returned"])]
        out.append("")
    return "\n".join(out)


def fold(profile: str, sdir: Path, results: Path = ROOT / "results", carry: Path = ROOT / ".gpu") -> dict:
    """Fold a returned session into results/<profile>/: all or nothing. The new snapshot is built in a
    temporary folder beside it and moved into place at the end; any refusal leaves the old one as it was."""
    from ..snapshots.records import SnapshotError, read_checked, read_records
    sdir = Path(sdir)
    info = verify(sdir)
    if info["profile"] != profile:
        raise FoldError(f"the session ran profile {info['profile']!r}, not {profile!r}")
    snap = results / profile
    plan = load_plan(plan_file(profile, results.parent), "independent")
    try:
        returned = read_records(sdir / "runs.json") if (sdir / "runs.json").exists() else []
        earlier = read_records(snap / "runs.json") if (snap / "runs.json").exists() else []
        prov = (read_checked(snap / "provenance.json", dict) if (snap / "provenance.json").exists() else
                {"profile": profile, "kind": "gpu", "sessions": [], "pieces": {}})
    except SnapshotError as e:
        raise FoldError(f"{e}: not imported") from None
    if not (isinstance(prov.get("sessions"), list) and isinstance(prov.get("pieces"), dict)
            and all(isinstance(s, dict) and isinstance(s.get("started"), str) for s in prov["sessions"])):
        raise FoldError(f"{snap / 'provenance.json'} lacks a valid sessions list or pieces: not imported")
    if any(s["started"] == info["started"] and s.get("finished") == info.get("finished")
           for s in prov["sessions"]):
        raise FoldError(f"the session of {info['started']} is already in {snap}: nothing to import")
    results.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{profile}.import.", dir=results))
    try:
        new = stage / profile
        if snap.exists():
            shutil.copytree(snap, new)
        new.mkdir(exist_ok=True)
        summary = _fold_into(new, profile, sdir, info, plan, prov, earlier, returned, results.parent)
        for e in info.get("resume", []):  # the cut runs' states for `pack`, before the import counts as done
            dst = carry / "resume" / e["sha256"][:16]
            dst.mkdir(parents=True, exist_ok=True)
            for part in e["parts"]:
                shutil.copy2(sdir / part, dst / part)
        previous = stage / "previous"
        if snap.exists():
            os.replace(snap, previous)
        try:
            os.replace(new, snap)
        except BaseException:
            if previous.exists() and not snap.exists():
                os.replace(previous, snap)  # the old snapshot back in place
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    from ..io import write_json
    write_json(carry / f"resume.{profile}.json", info.get("resume", []))  # the latest session's cut runs
    return summary


def _fold_into(snap: Path, profile: str, sdir: Path, info: dict, plan: dict, prov: dict, earlier: list[dict],
               returned: list[dict], root: Path) -> dict:
    """The import proper, written into ``snap`` (a staged copy of the snapshot)."""
    from ..data.fetch import DatasetError
    from ..io import write_json, write_text
    # a run is its piece's folder and its path there (pieces train in folders of their own)
    records = {(r.get("piece"), r["run"]): r for r in earlier}
    for r in returned:
        records[(r.get("piece"), r["run"])] = r | {"session": info["started"]}
    done_now = [p["name"] for p in info["pieces"] if p["status"] == "done"]
    if (sdir / "outputs.tar.gz").exists():
        from ..data.archives import safe_extract_tar
        with tempfile.TemporaryDirectory(prefix="fold.") as tmp:
            try:
                safe_extract_tar(sdir / "outputs.tar.gz", Path(tmp))
            except DatasetError as e:
                raise FoldError(f"{sdir / 'outputs.tar.gz'}: {e}: not imported") from None
            for name in done_now:
                src, piece = Path(tmp) / "pieces" / name, snap / "pieces" / name
                shutil.rmtree(piece, ignore_errors=True)
                for rel in ("metrics", "plots/distill"):
                    if (src / rel).exists():
                        shutil.copytree(src / rel, piece / rel)
                figs = snap / "figures" / name
                shutil.rmtree(figs, ignore_errors=True)
                if (src / "plots" / "figures").exists():
                    shutil.copytree(src / "plots" / "figures", figs)
    for p in info["pieces"]:
        entry = prov["pieces"].setdefault(p["name"], {"done": False})
        if p["status"] == "done":
            entry.update({"done": True, "seconds": p["seconds"], "session": info["started"],
                          "device": info["machine"].get("gpu") or "cpu", "commit": info.get("commit")})
        elif not entry["done"]:
            entry["last"] = p["status"] + (f": {p['why']}" if p.get("why") else "")
    prov["sessions"].append({k: v for k, v in info.items() if k != "files"})
    done = [p["name"] for p in plan["pieces"] if prov["pieces"].get(p["name"], {}).get("done")]
    from ..config import yaml12  # params as DVC reads them (YAML 1.2)
    params = yaml12.load((root / "params.yaml").read_text())
    prov |= {"commit": info.get("commit") or "unknown", "params": merged_params(params, plan, done),
             "complete": len(done) == len(plan["pieces"]),
             "total_seconds": sum(s["seconds"] for s in prov["sessions"])}
    rec = sorted(records.values(), key=lambda r: (r.get("piece") or "", r["run"]))
    write_json(snap / "runs.json", rec)
    try:
        render(snap, prov["params"], done, rec, prov)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise FoldError(f"the metrics of the returned pieces ({', '.join(done_now) or 'none done'}) cannot be "
                        f"read ({type(e).__name__}: {e}): not imported") from None
    write_json(snap / "provenance.json", prov)
    write_text(snap / "gpu_sessions.md", sessions_md(prov["sessions"]))
    return {"runs": len(rec), "new_runs": len(returned), "done": done,
            "todo": [p["name"] for p in plan["pieces"] if p["name"] not in done]}
