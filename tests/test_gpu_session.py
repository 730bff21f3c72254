"""The prepared GPU session (tools/gpu), rehearsed on the CPU without dvc: run, import, accumulate."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

TINY_PLAN = {
    "profile": "smoke", "composition": "independent", "device": {"bf16_peak_tflops": 1}, "utilisation": {},
    "params": {"execution": {"device": "cpu"},  # narrower FCNs: the session's mechanics are under test
               "fcn": {"hidden": [256, 256]}, "distill": {"teacher_hidden": [256, 256], "student_hidden": [128, 128]}},
    "base": {"classifiers": {"fcn": [], "alexnet": [], "resnet56": [], "resnet34": [], "resnet50": []},
             "figure8_dataset": None, "mi_dataset": None},
    "pieces": [
        {"name": "fcn", "stages": ["download", "preprocess", "train", "calibrate", "project", "teacher", "student",
                                   "sweep_teachers", "distill"],
         "set": {"datasets": ["mnist", "multi30k"], "classifiers": {"fcn": ["mnist"]}}},
        # ~16,000 steps: always still training at any deadline here, so it is cut and must come back resumable
        {"name": "long", "stages": ["download", "preprocess", "train"],
         "set": {"datasets": ["mnist", "multi30k"], "classifiers": {"fcn": ["mnist"]}, "seeds": [9],
                 "fcn_epochs": 2000}},
    ]}


def _project(tmp: Path) -> Path:
    """A results root beside a copy of params.yaml, holding the tiny plan (what `import` reads)."""
    proj = tmp / "project"
    (proj / "results" / "smoke").mkdir(parents=True)
    shutil.copy2(ROOT / "params.yaml", proj / "params.yaml")
    (proj / "results" / "smoke" / "gpu_plan.yaml").write_text(yaml.safe_dump(TINY_PLAN, sort_keys=False))
    return proj


def _session(tmp: Path, proj: Path, out: Path, env: dict, *args: str) -> str:
    cmd = [sys.executable, "-m", "tools.gpu", "run", "--out", str(out), "--device", "cpu", "--profile", "smoke",
           "--plan", str(proj / "results/smoke/gpu_plan.yaml"), "--carry", str(tmp / "carry"), "--work",
           str(tmp / "work"), "--reserve", "8", "--min-piece-seconds", "3", *args]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, mirror):
    """`python -m tools.gpu run` with device cpu and tiny settings: a first session runs the self-test, the
    benchmark and the "fcn" piece; a second (no self-test or benchmark) starts the long piece and cuts it as
    soon as it has written a resumable state, as a deadline would. Both outcomes are the same on any machine:
    the deadlines are far beyond what the work takes, and the cut waits for the checkpoint, not the clock."""
    tmp = tmp_path_factory.mktemp("gpu")
    proj = _project(tmp)
    nodvc = tmp / "nodvc" / "dvc"  # the GPU image has no dvc: importing it fails in every process of the session
    nodvc.mkdir(parents=True)
    (nodvc / "__init__.py").write_text("raise ImportError('no dvc on the GPU image')\n")
    env = {**os.environ, "DATA_MIRROR": str(mirror), "PYTHONPATH": str(nodvc.parent),
           "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                   if not (Path(p) / "dvc").exists())}
    stdout = _session(tmp, proj, tmp / "out", env, "--deadline", "3000", "--pieces", "fcn", "--bench-models", "fcn",
                      "--bench-steps", "2", "--bench-repeats", "1", "--selftest-seconds", "900",
                      "--bench-seconds", "900")
    (tmp / "carry").mkdir(exist_ok=True)
    (tmp / "carry" / "carry.json").write_text(json.dumps({"profile": "smoke", "done": ["fcn"]}))
    _session(tmp, proj, tmp / "cut", env, "--deadline", "3000", "--cut-at-checkpoint", "--selftest-seconds", "0",
             "--bench-seconds", "0")
    return tmp, proj, tmp / "out", stdout


def test_the_rehearsal_returns_at_most_8_files_with_their_digests(rehearsal):
    from pipeline.io import file_digests
    _, _, out, stdout = rehearsal
    files = sorted(f.name for f in out.iterdir())
    assert len(files) <= 8 and {"session.json", "runs.json", "outputs.tar.gz", "session.log"} <= set(files), files
    info = json.loads((out / "session.json").read_text())
    assert [p["name"] for p in info["pieces"]] == ["fcn"]  # --pieces fcn: "long" stays to do
    assert set(info["files"]) == set(files) - {"session.json", "session.log"}
    assert all(file_digests(out / n)["sha256"] == s for n, s in info["files"].items())
    assert [r["ok"] for r in info["selftest"]] == [True] * 6, info["selftest"]
    assert "self-test done: PASS FCN: 3 runs stacked = the same runs alone" in stdout
    fcn = next(r for r in info["benchmark"]["rows"] if r["model"] == "FCN-1200")
    from pipeline.training.builders import cpu_has_native_bf16
    assert fcn["a"] > 0 and fcn["b"] > 0 and info["benchmark"]["matmul_peak_fp32_flops"] > 0
    # bf16 is timed only where it is native: emulated, its peak alone outlasted the benchmark's budget on AVX2
    assert (info["benchmark"]["matmul_peak_bf16_flops"] is not None) == cpu_has_native_bf16()


def test_the_deadline_cuts_a_piece_and_its_runs_come_back_resumable(rehearsal):
    tmp, _, out, _ = rehearsal
    info = json.loads((out / "session.json").read_text())
    assert {p["name"]: p["status"] for p in info["pieces"]}["fcn"] == "done", info["pieces"]
    cut = json.loads((tmp / "cut" / "session.json").read_text())
    assert [(p["name"], p["status"]) for p in cut["pieces"]] == [("long", "cut")]  # "fcn": done, skipped
    assert cut["selftest_status"] == cut["benchmark_status"] == "skipped"
    (resume,) = cut["resume"]
    assert resume["runs"] and all(r.startswith("long/models/classifiers/fcn/mnist/") for r in resume["runs"])
    assert all((tmp / "cut" / part).stat().st_size <= 15 * 2 ** 20 for part in resume["parts"])


def test_import_builds_records_tables_claims_and_provenance(rehearsal, monkeypatch):
    from pipeline.gpu_session.fold import fold
    from pipeline.training.run_key import key_of
    tmp, proj, out, _ = rehearsal
    r = fold("smoke", out, proj / "results", tmp / "carry_here")
    snap = proj / "results" / "smoke"
    info = json.loads((out / "session.json").read_text())
    runs = json.loads((snap / "runs.json").read_text())
    t2 = [x for x in runs if x["run"].startswith("models/classifiers/fcn/mnist/alpha_")]
    assert len(t2) == 5 and {x["piece"] for x in t2} == {"fcn"}
    for x in t2:
        assert x["execution"]["precision"] in ("fp32", "bf16") and x["device"] == "cpu"
        assert 0 < x["test_acc"] <= 100 and x["temperature"] > 0
        assert key_of(x["config"], x["data_sha256"], x["execution"]) == x["key"]
    prov = json.loads((snap / "provenance.json").read_text())
    assert prov["pieces"]["fcn"]["done"] and prov["sessions"][0]["machine"]["torch"]
    assert prov["sessions"][0]["started"] == info["started"]
    tables = (snap / "tables.md").read_text()
    assert "## Table 2" in tables and "| MNIST | FCN | **ours** |" in tables and "## Table 4" in tables
    assert json.loads((snap / "tables.json").read_text())
    assert "Claims tested by the `smoke` snapshot" in (snap / "claims.md").read_text()
    assert "Not run: not in a finished piece" in tables  # the Transformer: no piece of this plan ran it
    assert "| FCN-1200 |" in (snap / "gpu_sessions.md").read_text()
    assert (snap / "figures" / "fcn" / "reliability.png").is_file()
    assert r["todo"] == ["long"]
    # The same session imported twice: refused, nothing changed.
    from pipeline.gpu_session.fold import FoldError
    before = {f: (snap / f).read_bytes() for f in ("runs.json", "provenance.json", "gpu_sessions.md")}
    with pytest.raises(FoldError, match="already in"):
        fold("smoke", out, proj / "results", tmp / "carry_here")
    assert before == {f: (snap / f).read_bytes() for f in before}


def test_returned_resume_state_is_verified_then_restored_where_the_run_resumes(rehearsal, tmp_path):
    from pipeline.gpu_session.session import restore_resume
    tmp, _, _, _ = rehearsal
    out = tmp / "cut"
    (entry,) = json.loads((out / "session.json").read_text())["resume"]
    folder = tmp_path / "carry" / entry["sha256"][:16]
    folder.mkdir(parents=True)
    for part in entry["parts"]:
        shutil.copy2(out / part, folder / part)
    logs = []
    restore_resume([entry], tmp_path / "carry", tmp_path / "work", logs.append)
    (run,) = entry["runs"]
    assert run.startswith("long/models/classifiers/fcn/mnist/") and (tmp_path / "work" / run / "state.pt").is_file()
    assert logs == ["restored the resumable state of 1 runs"]
    # a damaged part: refused before anything is extracted
    data = bytearray((folder / entry["parts"][0]).read_bytes())
    data[100] ^= 0xFF
    (folder / entry["parts"][0]).write_bytes(bytes(data))
    logs.clear()
    restore_resume([entry], tmp_path / "carry", tmp_path / "work2", logs.append)
    assert "sha256 mismatch" in logs[0] and not (tmp_path / "work2").exists()


def test_import_refuses_a_file_that_does_not_match_its_digest(rehearsal, tmp_path):
    from pipeline.gpu_session.fold import FoldError, fold
    _, _, out, _ = rehearsal
    bad = tmp_path / "out"
    shutil.copytree(out, bad)
    data = bytearray((bad / "outputs.tar.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "outputs.tar.gz").write_bytes(bytes(data))
    proj = _project(tmp_path)
    with pytest.raises(FoldError, match="does not match the sha256"):
        fold("smoke", bad, proj / "results", tmp_path / "carry")
    assert not (proj / "results" / "smoke" / "runs.json").exists()  # nothing half-imported

@pytest.mark.parametrize("name", ["", "..", "../victim", "/ABS/victim", "pieces/../..", " fcn"])
def test_import_refuses_a_piece_name_that_is_not_a_plain_name_and_deletes_nothing(rehearsal, tmp_path, name):
    """A returned session.json names the pieces whose folders the import replaces: a path there would reach
    outside results/ (the name is not covered by any digest, so it must be checked itself)."""
    from pipeline.gpu_session.fold import FoldError, fold
    _, _, out, _ = rehearsal
    bad = tmp_path / "out"
    shutil.copytree(out, bad)
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    info = json.loads((bad / "session.json").read_text())
    info["pieces"][0] |= {"name": name.replace("/ABS/victim", str(victim)), "status": "done"}
    (bad / "session.json").write_text(json.dumps(info))
    proj = _project(tmp_path)
    with pytest.raises(FoldError, match="not a plain name"):
        fold("smoke", bad, proj / "results", tmp_path / "carry")
    assert (victim / "keep").is_dir() and not (proj / "results" / "smoke" / "runs.json").exists()


def test_import_refuses_a_session_file_that_is_not_json_in_one_line(rehearsal, tmp_path):
    _, _, out, _ = rehearsal
    bad = tmp_path / "out"
    shutil.copytree(out, bad)
    (bad / "session.json").write_text('{"pieces": [')
    # refused while verifying, before results/ is read or written
    r = subprocess.run([sys.executable, "-m", "tools.gpu", "import", "smoke", str(bad)], cwd=ROOT, env=os.environ,
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not valid JSON" in r.stderr


def _resigned(out: Path, dst: Path, change) -> Path:
    """A copy of a returned session with ``change(folder)`` applied and session.json's digests updated to match:
    what an attacker or a bug on the device could return."""
    from pipeline.io import file_digests
    shutil.copytree(out, dst)
    change(dst)
    info = json.loads((dst / "session.json").read_text())
    info["files"] = {f.name: file_digests(f)["sha256"] for f in sorted(dst.iterdir())
                     if f.name not in ("session.json", "session.log")}
    (dst / "session.json").write_text(json.dumps(info))
    return dst


def _retar(folder: Path, edit) -> None:
    import tarfile
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(folder / "outputs.tar.gz") as t:
            t.extractall(tmp, filter="data")
        edit(Path(tmp))
        with tarfile.open(folder / "outputs.tar.gz", "w:gz") as t:
            for f in sorted(Path(tmp).rglob("*")):
                t.add(f, f.relative_to(tmp).as_posix(), recursive=False)


def _edit_info(folder: Path, edit) -> None:
    info = json.loads((folder / "session.json").read_text())
    edit(info)
    (folder / "session.json").write_text(json.dumps(info))


def _evil_member(folder: Path) -> None:
    import io
    import tarfile
    with tarfile.open(folder / "outputs.tar.gz", "w:gz") as t:
        m = tarfile.TarInfo("../../escaped.txt")
        m.size = 3
        t.addfile(m, io.BytesIO(b"bad"))


BAD_SESSIONS = {
    "junk records": (lambda d: (d / "runs.json").write_text('[{"run": 1}, "x"]'), "lacks a valid"),
    "records not JSON": (lambda d: (d / "runs.json").write_text('[{"run": '), "runs.json is not valid JSON"),
    "a done piece's metrics not JSON": (lambda d: _retar(d, lambda t: (t / "pieces/fcn/metrics/train.json")
                                                         .write_text("{")), "cannot be read"),
    "an archive member outside its folder": (_evil_member, "would be written outside"),
    "a session without its profile": (lambda d: _edit_info(d, lambda i: i.pop("profile")), "lacks a valid profile"),
    "a session without its machine": (lambda d: _edit_info(d, lambda i: i.update(machine=None)), "valid machine"),
    "a piece without a status": (lambda d: _edit_info(d, lambda i: i["pieces"][0].pop("status")), "valid status"),
    "a done piece without seconds": (lambda d: _edit_info(d, lambda i: [p.pop("seconds") for p in i["pieces"]
                                                                        if p["status"] == "done"]), "valid seconds"),
    "a resume entry without parts": (lambda d: _edit_info(d, lambda i: i.update(resume=[{"sha256": "a" * 64}])),
                                     "valid resume"),
}


@pytest.mark.parametrize("case", BAD_SESSIONS)
def test_a_bad_session_is_refused_in_one_line_and_changes_nothing(case, rehearsal, tmp_path):
    from pipeline.gpu_session.fold import FoldError, fold
    tmp, _, out, _ = rehearsal
    change, says = BAD_SESSIONS[case]
    proj = _project(tmp_path)
    fold("smoke", tmp / "cut", proj / "results", tmp_path / "carry")   # an earlier session, already imported
    bad = _resigned(out, tmp_path / "out", change)
    before = {p.relative_to(proj).as_posix(): p.read_bytes() for p in sorted(proj.rglob("*")) if p.is_file()}
    with pytest.raises(FoldError, match=says):   # the command prints a FoldError as one line, exit 2
        fold("smoke", bad, proj / "results", tmp_path / "carry")
    after = {p.relative_to(proj).as_posix(): p.read_bytes() for p in sorted(proj.rglob("*")) if p.is_file()}
    assert after == before and "results/smoke/runs.json" in after   # the earlier snapshot intact, no half-import
    assert not (Path(tempfile.gettempdir()).parent / "escaped.txt").exists()   # where ../../ from a temp folder is


def test_an_unlisted_file_in_a_returned_session_is_refused(rehearsal, tmp_path):
    from pipeline.gpu_session.fold import FoldError, fold
    _, _, out, _ = rehearsal
    bad = tmp_path / "out"
    shutil.copytree(out, bad)
    (bad / "notes.txt").write_text("not from the session")
    proj = _project(tmp_path)
    with pytest.raises(FoldError, match=r"does not list \(notes.txt\)"):
        fold("smoke", bad, proj / "results", tmp_path / "carry")


def test_an_earlier_provenance_without_its_sessions_is_refused_in_one_line(rehearsal, tmp_path):
    from pipeline.gpu_session.fold import FoldError, fold
    tmp, _, out, _ = rehearsal
    proj = _project(tmp_path)
    fold("smoke", tmp / "cut", proj / "results", tmp_path / "carry")
    prov = proj / "results/smoke/provenance.json"
    prov.write_text(json.dumps({"profile": "smoke", "pieces": {}}))
    with pytest.raises(FoldError, match="provenance.json lacks a valid sessions list"):
        fold("smoke", out, proj / "results", tmp_path / "carry")
    assert json.loads(prov.read_text()) == {"profile": "smoke", "pieces": {}}
