"""python -m tools.gpu {pack,run,import,estimate,selftest,piece}: see tools/gpu/__init__.py."""
from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _run(a) -> int:
    from pipeline.gpu_session.session import Session
    return Session(a).run()


def _piece(a) -> int:
    """Child of `run`: the piece's stages in this process (params.yaml in the working directory)."""
    from pipeline.config import yaml12  # params as DVC reads them (YAML 1.2)
    from pipeline.gpu_session.stages import StageFailed, run_stages
    params = yaml12.load(Path("params.yaml").read_text())
    try:
        run_stages(a.stages.split(","), params, log=lambda m: print(m, flush=True))
    except StageFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _selftest(a) -> int:
    import torch

    from pipeline.gpu_session.selftest import selftest
    from pipeline.io import write_json
    rows = selftest(torch.device(a.device))
    if a.json:
        write_json(Path(a.json), rows)
    return 0 if all(r["ok"] for r in rows) else 1


def _pack(a) -> int:
    from pipeline.gpu_session.carry import default_mirror, pack
    info = pack(a.profile, Path(a.mirror) if a.mirror else default_mirror(), a.limit_mib)
    print(json.dumps({k: v for k, v in info.items() if k != "resume"}, indent=2))
    print(f"\n{len(info['resume'])} resumable state(s) carried. On the device, with carry [\".gpu\"]:\n"
          f"  python3 -m tools.gpu run --out $OUT --deadline 480\nthen here: python -m tools.gpu import "
          f"{a.profile} <the folder the files came back to>")
    return 0


def _import(a) -> int:
    from pipeline.gpu_session.fold import FoldError, fold
    try:
        r = fold(a.profile, Path(a.dir))
    except FoldError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the import is staged beside the snapshot and moved into place at its end
        print(f"interrupted: results/{a.profile} is as it was or, if the import had reached its last step, fully "
              "imported (it moves into place in one rename); run the same command again (a finished import is "
              "refused as already in)", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        print(f"error: no space left on the device while writing {e.filename or 'the import'}; results/"
              f"{a.profile} is as it was or fully imported (it moves into place in one rename); free space and "
              "rerun", file=sys.stderr)
        return 2
    print(f"results/{a.profile}: {r['runs']} runs ({r['new_runs']} returned by this session); pieces done: "
          f"{', '.join(r['done']) or 'none'}; still to run: {', '.join(r['todo']) or 'none'}")
    return 0


def _estimate(a) -> int:
    from .estimate import estimate_table
    print(estimate_table(a.profile))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.gpu", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="on the device: self-test, benchmark, pieces until the deadline")
    r.add_argument("--out", required=True, help="where the (at most 8) files go: $OUT")
    r.add_argument("--deadline", type=float, default=480, help="seconds for everything (default 480)")
    r.add_argument("--device", default=None, help="cuda or cpu (default: cuda if visible)")
    r.add_argument("--profile", default=None, help="default: .gpu/carry.json's, else paper_offline")
    r.add_argument("--plan", default=None, help="default: results/<profile>/gpu_plan.yaml")
    r.add_argument("--carry", default=None, help="default: .gpu/")
    r.add_argument("--work", default=None, help="default: .gpu-work/<profile>/")
    r.add_argument("--selftest-seconds", type=float, default=90, help="0 skips the self-test")
    r.add_argument("--bench-seconds", type=float, default=120, help="0 skips the benchmark")
    r.add_argument("--bench-steps", type=int, default=20)
    r.add_argument("--bench-repeats", type=int, default=3)
    r.add_argument("--bench-models", default="fcn,alexnet,resnet56,transformer")
    r.add_argument("--reserve", type=float, default=30, help="seconds kept for writing the outputs")
    r.add_argument("--pieces", default=None, help="only these pieces (comma-separated); the rest stay to do")
    r.add_argument("--cut-at-checkpoint", action="store_true",
                   help="cut each piece once it has a resumable run (rehearses the deadline cut)")
    r.add_argument("--min-piece-seconds", type=float, default=20, help="do not start a piece with less left")
    p = sub.add_parser("piece", help="(used by run) run stages in this process")
    p.add_argument("stages")
    s = sub.add_parser("selftest", help="the CUDA path's checks, a PASS/FAIL line each")
    s.add_argument("--device", default="cuda")
    s.add_argument("--json", default=None)
    k = sub.add_parser("pack", help="here: prepare .gpu/ to carry")
    k.add_argument("profile")
    k.add_argument("--mirror", default=None, help="default: $DATA_MIRROR, else ../shared/datasets")
    k.add_argument("--limit-mib", type=float, default=64, help="the device tool's transfer limit")
    i = sub.add_parser("import", help="here: fold a session's files into results/<profile>/")
    i.add_argument("profile")
    i.add_argument("dir")
    e = sub.add_parser("estimate", help="projected device time per piece")
    e.add_argument("profile")
    a = ap.parse_args()
    return {"run": _run, "piece": _piece, "selftest": _selftest, "pack": _pack, "import": _import,
            "estimate": _estimate}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
