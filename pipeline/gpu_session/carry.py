"""`pack`: what a GPU session takes along in .gpu/ (git-ignored; name it in the device tool's `carry`).

    python -m tools.gpu pack PROFILE [--mirror DIR] [--limit-mib 64]

  .gpu/carry.json   the profile, commit, pieces already folded into results/<profile>/ (the session
                    skips them), the datasets carried and those left out, the resumable state
  .gpu/datasets/    the mirror's files of the datasets the pieces still to run need, in the plan's
                    priority order, as many as fit beside the working tree in the transfer limit
  .gpu/resume/      the last session's unfinished runs (written by `import`), checked there by sha256

A dataset that does not fit is named in carry.json and its pieces are skipped there with that
reason; once earlier pieces are done their datasets are no longer carried, and it fits.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..snapshots.plan import load_plan, piece_params, pieces_todo, plan_file

ROOT = Path(__file__).resolve().parents[2]
MIB = 2 ** 20


def tree_bytes(root: Path) -> int:
    """What the device tool sends besides `carry`: tracked and untracked, not ignored, files."""
    names = subprocess.check_output(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root).split(b"\0")
    return sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())


def pack(profile: str, mirror: Path, limit_mib: float = 64, root: Path = ROOT) -> dict:
    from ..data.registry import get
    from ..io import write_json
    plan = load_plan(plan_file(profile, root), "independent")
    prov_file = root / "results" / profile / "provenance.json"
    pieces = json.loads(prov_file.read_text()).get("pieces", {}) if prov_file.exists() else {}
    done = [n for n, p in pieces.items() if isinstance(p, dict) and p.get("done")]
    carry = root / ".gpu"
    shutil.rmtree(carry / "datasets", ignore_errors=True)
    carry.mkdir(exist_ok=True)
    resume_file = carry / f"resume.{profile}.json"
    resume = [e for e in (json.loads(resume_file.read_text()) if resume_file.exists() else [])
              if all((carry / "resume" / e["sha256"][:16] / p).exists() for p in e["parts"])]
    keep = {e["sha256"][:16] for e in resume}
    for old in (carry / "resume").iterdir() if (carry / "resume").exists() else []:
        if old.name not in keep:  # an earlier session's state, superseded: it would only fill the transfer
            shutil.rmtree(old)
    used = tree_bytes(root) + sum(f.stat().st_size for f in (carry / "resume").rglob("*") if f.is_file()) \
        if (carry / "resume").exists() else tree_bytes(root)
    budget = limit_mib * MIB - 1 * MIB  # headroom for carry.json and rounding
    from ..config import yaml12  # params as DVC reads them (YAML 1.2)
    params = yaml12.load((root / "params.yaml").read_text())
    carried, left_out = [], []
    for piece in pieces_todo(plan, done):
        for name in piece_params(params, plan, piece)["profiles"][profile]["datasets"]:
            if name in carried or name in [x["dataset"] for x in left_out]:
                continue
            files = [(f.mirror_path, mirror / f.mirror_path) for f in get(name).files]
            missing = [str(p) for _, p in files if not p.is_file()]
            size = sum(p.stat().st_size for _, p in files if p.is_file())
            if missing:
                left_out.append({"dataset": name, "why": f"not in the mirror: {missing}"})
            elif used + size > budget:
                left_out.append({"dataset": name, "why": f"{size / MIB:.1f} MiB does not fit: {used / MIB:.1f} of "
                                 f"{limit_mib:g} MiB already used"})
            else:
                for rel, src in files:
                    (carry / "datasets" / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, carry / "datasets" / rel)
                carried.append(name)
                used += size
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True).stdout.strip() != ""
    info = {"profile": profile, "commit": commit, "dirty": dirty, "done": done, "datasets": carried,
            "left_out": left_out, "resume": resume, "mib": round(used / MIB, 1)}
    write_json(carry / "carry.json", info)
    return info


def default_mirror() -> Path:
    return Path(os.environ.get("DATA_MIRROR") or ROOT.parent / "shared" / "datasets")
