"""The device side: self-test, benchmark, then the plan's pieces in order until the deadline.

Runs on the GPU image as it is (python3, torch, no dvc), from the repository root:

    python3 -m tools.gpu run --out $OUT [--deadline 480] [--device cuda]

What `pack` left in .gpu/ is read first: the datasets to use as the mirror, the pieces already
folded into results/<profile>/ (skipped), and the resumable state of runs an earlier session's
deadline cut (verified, then restored). Each piece trains in its own folder,
.gpu-work/<profile>/<piece>/, with the pipeline's own stages (pipeline/gpu_session/stages.py): a stage
prunes the run folders its params do not ask for, so pieces must not share one. The folders
survive between calls to a warm machine, so a second call resumes there too. Each phase is a
child process with a timeout: a piece still running at the deadline is stopped (its runs keep
their last resumable state, written every `execution.checkpoint_every` steps) and its unfinished
runs come back resumable.

At most 8 files come back (the device tool's limit), all in --out:
  session.json     provenance, self-test lines, benchmark, each piece's outcome, the files' sha256
  runs.json        one record per finished run (pipeline/snapshots/writer.py's format, plus its piece), collected
                   as each piece ends
  outputs.tar.gz   per finished piece: metrics/ and plots/ (tables, figure data, PNGs)
  session.log      everything the phases printed
  resume.tar.NN    unfinished runs' folders (resumable state), in parts of at most 15 MiB
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import yaml

from ..io import read_json
from ..snapshots.machine import machine
from ..snapshots.plan import load_plan, piece_params, pieces_todo, plan_file

ROOT = Path(__file__).resolve().parents[2]
CARRY = ROOT / ".gpu"
PART = 15 * 2 ** 20
MAX_FILES = 8
MAX_BYTES = 60 * 2 ** 20  # of the 64 MiB that come back, with room for the small files


class Session:
    def __init__(self, args):
        self.args, self.t0 = args, time.time()
        self.out = Path(args.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.logf = open(self.out / "session.log", "a")
        self.carry_dir = Path(args.carry).resolve() if args.carry else CARRY
        self.carry = read_json(self.carry_dir / "carry.json", {})
        carried = self.carry_dir / "datasets"
        self.mirror = carried if carried.is_dir() else (Path(os.environ["DATA_MIRROR"]).resolve()
                                                       if os.environ.get("DATA_MIRROR") else None)
        self.profile = args.profile or self.carry.get("profile") or "paper_offline"
        self.plan = load_plan(Path(args.plan) if args.plan else plan_file(self.profile), "independent")
        self.work = Path(args.work or ROOT / ".gpu-work" / self.profile).resolve()  # not carried: .gpu/ travels
        self.staged = self.work.parent / f"{self.profile}.staged"

    def left(self) -> float:
        return self.args.deadline - (time.time() - self.t0)

    def log(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:6.1f} s] {msg}"
        print(line, flush=True)
        self.logf.write(line + "\n")
        self.logf.flush()

    def child(self, cmd: list[str], timeout: float, cwd: Path, cut_when=None) -> str:
        """Run a phase as its own process group; 'done', 'failed (exit N)', or 'cut' at the timeout
        or as soon as `cut_when()` is true (checked every second)."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               "PIPELINE_RUN_LOG": str(cwd / "run_times.jsonl"), "PYTHONUNBUFFERED": "1"}
        if self.mirror is not None:
            env["DATA_MIRROR"] = str(self.mirror)
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self.logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
        end, rc = time.time() + max(timeout, 1), None
        while rc is None:
            try:
                rc = proc.wait(timeout=min(1.0, max(end - time.time(), 0.01)))
            except subprocess.TimeoutExpired:
                if time.time() >= end or (cut_when is not None and cut_when()):
                    break
        if rc is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return "cut"
        return "done" if rc == 0 else f"failed (exit {rc})"

    def prepare_work(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("dvc.yaml", "params.yaml"):  # params.yaml: the benchmark's; a piece writes its own
            shutil.copy2(ROOT / name, folder / name)
        return folder

    def run(self) -> int:
        import torch
        dev = self.args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        info = {"profile": self.profile, "commit": self.carry.get("commit"), "dirty": self.carry.get("dirty"),
                "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "deadline_s": self.args.deadline, "device": dev, "machine": machine(dev)}
        self.log(f"session: {info['machine']}, deadline {self.args.deadline:.0f} s, profile {self.profile}")
        self.prepare_work(self.work)
        restore_resume(self.carry.get("resume", []), self.carry_dir / "resume", self.work, self.log)
        for stale in ("selftest.json", "bench.json"):  # a warm machine keeps the last call's
            (self.work / stale).unlink(missing_ok=True)
        shutil.rmtree(self.staged, ignore_errors=True)
        py = sys.executable
        st = "skipped"
        if self.args.selftest_seconds > 0:
            st = self.child([py, "-m", "tools.gpu", "selftest", "--device", dev, "--json",
                             str(self.work / "selftest.json")], min(self.args.selftest_seconds, self.left()),
                            self.work)
        selftest = read_json(self.work / "selftest.json", [])
        self.log(f"self-test {st}: " + ", ".join(("PASS " if r["ok"] else "FAIL ") + r["check"] for r in selftest))
        bench_status, bench = "skipped", None
        if self.args.bench_seconds > 0:
            bench_status = self.child([py, str(ROOT / "benchmarks" / "throughput.py"), "--device", dev,
                                       "--steps", str(self.args.bench_steps), "--repeats", str(self.args.bench_repeats),
                                       "--models", self.args.bench_models, "--json", str(self.work / "bench.json")],
                                      min(self.args.bench_seconds, self.left()), self.work)
            bench = read_json(self.work / "bench.json", None)
        self.log(f"benchmark {bench_status}")
        pieces, records = self.run_pieces(dev)
        files = self.write_outputs(info | {"selftest": selftest, "selftest_status": st, "benchmark": bench,
                                           "benchmark_status": bench_status, "pieces": pieces}, records)
        self.log(f"wrote {', '.join(files)} to {self.out}")
        return 0

    def run_pieces(self, dev: str) -> tuple[list[dict], list[dict]]:
        """Each piece's outcome, and the records of every run a piece finished (collected as it ends)."""
        from ..config import yaml12  # params as DVC reads them (YAML 1.2)
        base = yaml12.load((ROOT / "params.yaml").read_text())
        n_bins = base["calibrate"]["n_bins"]
        done, records, results = self.carry.get("done", []), [], []
        for piece in pieces_todo(self.plan, done):
            if self.args.pieces and piece["name"] not in self.args.pieces.split(","):
                continue  # not asked for this time: still to do
            name, p = piece["name"], piece_params(base, self.plan, piece)
            p["execution"]["device"] = dev
            folder = self.work / name
            missing = [d for d in p["profiles"][self.profile]["datasets"]
                       if not dataset_available(d, folder, self.mirror)]
            left = self.left() - self.args.reserve
            if missing:
                results.append({"name": name, "status": "skipped", "why": f"datasets not carried: {missing}"})
            elif left < self.args.min_piece_seconds:
                results.append({"name": name, "status": "not started",
                                "why": f"{max(left, 0):.0f} s left of the deadline"})
            else:
                self.prepare_work(folder)
                (folder / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
                self.log(f"piece {name}: stages {', '.join(piece['stages'])} ({left:.0f} s left)")
                t = time.time()
                # --cut-at-checkpoint: stop the piece once a run has written a resumable state, as the
                # deadline would; it rehearses the cut on any machine, however fast or slow.
                cut = (lambda f=folder, t=t: checkpointed_since(f, t)) if self.args.cut_at_checkpoint else None
                status = self.child([sys.executable, "-m", "tools.gpu", "piece", ",".join(piece["stages"])], left,
                                    folder, cut)
                results.append({"name": name, "status": status, "seconds": round(time.time() - t),
                                "set": piece.get("set", {}), "stages": piece["stages"]})
                records += [r | {"piece": name} for r in piece_records(folder, n_bins)]
                if status == "done":
                    stage_outputs(folder, self.staged / name)
            self.log(f"piece {name}: {results[-1]['status']} {results[-1].get('why', '')}".rstrip())
        return results, records

    def write_outputs(self, info: dict, records: list[dict]) -> list[str]:
        from ..io import file_digests, write_json
        write_json(self.out / "runs.json", records)
        if self.staged.exists():
            with tarfile.open(self.out / "outputs.tar.gz", "w:gz") as tar:
                tar.add(self.staged, arcname="pieces")
        parts, left_out = pack_resume(self.work, self.out, MAX_FILES - 4,
                                      MAX_BYTES - sum(f.stat().st_size for f in self.out.iterdir()))
        info |= {"finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 "seconds": round(time.time() - self.t0), "runs": len(records),
                 "resume": parts, "resume_not_returned": left_out}
        info["files"] = {f.name: file_digests(f)["sha256"] for f in sorted(self.out.iterdir())
                         if f.name not in ("session.json", "session.log")}
        write_json(self.out / "session.json", info)
        return sorted(f.name for f in self.out.iterdir())


def dataset_available(name: str, work: Path, mirror: Path | None) -> bool:
    """In the mirror (carried by `pack`, or DATA_MIRROR), or downloaded into the work folder earlier."""
    from ..data.registry import get
    files = get(name).files
    return (all((work / "data" / "raw" / name / f.name).exists() for f in files)
            or (mirror is not None and all((mirror / f.mirror_path).exists() for f in files)))


def piece_records(folder: Path, n_bins: int) -> list[dict]:
    """pipeline/snapshots/writer.py's record of every finished run in a piece's folder."""
    from ..snapshots.writer import collect_runs
    return collect_runs(folder, n_bins)  # run paths relative to the piece's folder


def unfinished_runs(work: Path) -> list[Path]:
    """Run folders with a resumable state and no completion mark, in every piece's folder."""
    return sorted(r for piece in work.iterdir() if piece.is_dir() for r in unfinished_runs_in(piece))


def checkpointed_since(piece: Path, t: float) -> bool:
    """Has an unfinished run in this piece's folder written its resumable state since time t?"""
    for r in unfinished_runs_in(piece):
        try:
            if (r / "state.pt").stat().st_mtime >= t:
                return True
        except FileNotFoundError:  # the run finished meanwhile
            pass
    return False


def unfinished_runs_in(piece: Path) -> list[Path]:
    """The same within one piece's folder."""
    return sorted(s.parent for s in piece.glob("models/**/state.pt") if not (s.parent / "metrics.json").exists())


def stage_outputs(work: Path, dst: Path) -> None:
    """A finished piece's metrics/ and plots/ (its tables, figure data and figures)."""
    if dst.exists():
        shutil.rmtree(dst)
    for name in ("metrics", "plots"):
        if (work / name).exists():
            shutil.copytree(work / name, dst / name)


def pack_resume(work: Path, out: Path, max_parts: int, max_bytes: int) -> tuple[list[dict], list[str]]:
    """Unfinished runs' folders as one tar in parts of PART bytes; runs that do not fit (the tar as
    written, headers included) are named, not sent: the largest are left out first."""
    from ..io import file_digests
    limit = min(max_bytes, max_parts * PART)
    sent = sorted(unfinished_runs(work), key=lambda r: sum(f.stat().st_size for f in r.rglob("*") if f.is_file()))
    left_out: list[str] = []
    blob = out / "resume.tar"
    while sent:
        with tarfile.open(blob, "w") as tar:
            for r in sent:
                tar.add(r, arcname=r.relative_to(work).as_posix())
        if blob.stat().st_size <= limit:
            break
        r = sent.pop()
        left_out.append(f"{r.relative_to(work).as_posix()} "
                        f"({sum(f.stat().st_size for f in r.rglob('*') if f.is_file()) / 2 ** 20:.0f} MiB)")
    if not sent:
        blob.unlink(missing_ok=True)
        return [], left_out
    whole, parts = file_digests(blob)["sha256"], []
    with open(blob, "rb") as f:
        while chunk := f.read(PART):
            (out / f"resume.tar.{len(parts):02d}").write_bytes(chunk)
            parts.append(f"resume.tar.{len(parts):02d}")
    blob.unlink()
    return [{"parts": parts, "sha256": whole, "runs": [r.relative_to(work).as_posix() for r in sent]}], left_out


def restore_resume(entries: list[dict], folder: Path, work: Path, log) -> None:
    """Reassemble carried resume tars, check their sha256, and only then extract them (data filter)."""
    from ..data.archives import safe_extract_tar
    from ..io import file_digests
    for e in entries:
        if all((work / r).exists() for r in e["runs"]):
            continue  # a warm machine's own folders are newer than what an earlier call sent back
        blob = folder / f"{e['sha256'][:16]}.tar"
        with open(blob, "wb") as f:
            for part in e["parts"]:
                f.write((folder / e["sha256"][:16] / part).read_bytes())
        if file_digests(blob)["sha256"] != e["sha256"]:
            log(f"resume state {blob.name}: sha256 mismatch, not restored (its runs start over)")
            blob.unlink()
            continue
        safe_extract_tar(blob, work)
        log(f"restored the resumable state of {len(e['runs'])} runs")
        blob.unlink()
