"""A finished run is reused only if its files are the ones it wrote; one process trains a run folder at a time."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.test_many import BASE, CPU, cfg, ls


def train(run_dir, seed=0):
    from pipeline.training.run import train_run
    return train_run(run_dir, cfg(seed, ls(0.1)), CPU, BASE)


def test_every_file_of_a_run_is_recorded(toy):
    from pipeline.io import read_json
    from pipeline.training.integrity import output_digests
    train(toy / "r")
    m = read_json(toy / "r/metrics.json")
    assert set(m["files"]) == {"model.pt", "logits.pt", "curve.json"}
    assert m["files"] == output_digests(toy / "r")


@pytest.mark.parametrize("damage", ["truncate", "delete", "flip"])
def test_a_damaged_finished_run_is_retrained_not_reused(toy, capsys, damage):
    first = train(toy / "r")
    f = toy / "r/logits.pt"
    good = f.read_bytes()
    if damage == "truncate":
        f.write_bytes(good[:1000])
    elif damage == "delete":
        f.unlink()
    else:
        f.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    again = train(toy / "r")
    assert not again["reused"], "a damaged run was reused"
    assert "logits.pt" in capsys.readouterr().out
    assert f.read_bytes() == good and again["test_acc"] == first["test_acc"]  # retrained to the same bytes
    assert train(toy / "r")["reused"]  # and an intact run is reused


def test_a_finished_run_with_another_key_is_not_reused(toy):
    from pipeline.io import read_json, write_json
    train(toy / "r")
    m = read_json(toy / "r/metrics.json")
    write_json(toy / "r/metrics.json", m | {"key": "0" * 16})
    assert not train(toy / "r")["reused"]


def test_the_run_key_hashes_the_data_file(toy):
    from pipeline.training.run_key import run_key
    data = toy / "data/prepared/toy.pt"
    before = run_key(cfg(0, ls(0.1)), CPU, BASE)[0]
    split = torch.load(data, weights_only=True)
    split["train_y"][0] = (split["train_y"][0] + 1) % 4
    from pipeline.io import save_tensors
    save_tensors(data, split)
    assert run_key(cfg(0, ls(0.1)), CPU, BASE)[0] != before


def test_a_second_process_on_a_locked_run_folder_stops_with_a_clear_message(toy, root):
    from pipeline.training.integrity import RunBusyError, run_locks
    holder = subprocess.Popen([sys.executable, "-c", (
        f"import sys, time; sys.path.insert(0, {str(root)!r});"
        "from pipeline.training.integrity import run_locks\n"
        "with run_locks(['r']):\n    print('held', flush=True); time.sleep(600)")],
        cwd=toy, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = rf"run folder .*r is being trained by another process \(pid {holder.pid}\)"
        with pytest.raises(RunBusyError, match=busy):
            with run_locks([toy / "r"]):
                pass
    finally:
        holder.kill()
        holder.wait()
    with run_locks([toy / "r"]):  # released when its holder dies
        pass


def test_a_run_with_the_same_key_elsewhere_is_adopted_not_retrained(toy, monkeypatch):
    from pipeline import layout
    from pipeline.training.dispatch import Job, train_inline
    monkeypatch.setattr("pipeline.training.dispatch.RUN_ROOTS", [toy / "a", toy / "b"])
    first = train_inline([Job(toy / "a" / "r", cfg(0, ls(0.1)))], CPU, BASE)[0]
    assert not first["reused"] and layout.RUN_ROOTS  # the stages' roots exist
    copy = train_inline([Job(toy / "b" / "r", cfg(0, ls(0.1)))], CPU, BASE)[0]
    assert copy["reused"] and copy["key"] == first["key"]
    for f in ("model.pt", "logits.pt", "curve.json", "metrics.json"):
        assert (toy / "b/r" / f).read_bytes() == (toy / "a/r" / f).read_bytes()
    for donor in ("a", "b"):  # a damaged donor is never adopted
        (toy / donor / "r/model.pt").write_bytes(b"damaged")
    monkeypatch.setattr("pipeline.training.dispatch.RUN_ROOTS", [toy / "a", toy / "b", toy / "c"])
    other = train_inline([Job(toy / "c" / "r", cfg(0, ls(0.1)))], CPU, BASE)[0]
    assert not other["reused"] and other["key"] == first["key"]  # trained, not copied


def test_a_student_follows_its_teacher_and_refuses_a_replaced_one(toy):
    """The teacher's key is part of the student's config (the stages read it from the teacher's run), so a
    retrained teacher gives the student a new key: retrained, never reused. A student that is to be
    trained against a teacher folder holding another run than its config names is refused."""
    from pipeline.io import read_json
    from pipeline.training.run import train_run
    soft = {"kind": "soft_targets", "beta": 0.6, "temperature": 2.0}
    train_run(toy / "teacher", cfg(9, ls(0.0)), CPU, BASE)
    old = read_json(toy / "teacher/metrics.json")["key"]
    first = train_run(toy / "student", cfg(0, soft, old), CPU, BASE, toy / "teacher")
    assert train_run(toy / "student", cfg(0, soft, old), CPU, BASE, toy / "teacher")["reused"]
    train_run(toy / "teacher", cfg(9, ls(0.3)), CPU, BASE)  # the teacher's stage reran with another α
    new = read_json(toy / "teacher/metrics.json")["key"]
    assert new != old
    with pytest.raises(RuntimeError, match="is not the run with key"):
        train_run(toy / "student_of_old", cfg(0, soft, old), CPU, BASE, toy / "teacher")
    again = train_run(toy / "student", cfg(0, soft, new), CPU, BASE, toy / "teacher")
    assert not again["reused"] and again["key"] != first["key"]


def test_a_damaged_transformer_run_is_retrained_not_reused(toy, capsys):
    """The Transformer's runs follow the classifiers' integrity rules: every file's sha256 is recorded
    and checked before the run is reused."""
    from pipeline.io import read_json, save_tensors
    from pipeline.text.translation_run import train_translation
    from pipeline.training.run_key import TRANSLATION_DATA
    from tests.test_translation_eval import _split
    data = toy / TRANSLATION_DATA
    save_tensors(data, {s: _split(n=20, seed=i)[0] for i, s in enumerate(("train", "val", "test"))})
    tcfg = {"arch": "transformer", "dataset": "multi30k", "alpha": 0.1, "seed": 0, "epochs": 1, "steps": 6,
            "batch_size": 8, "eval_batch_size": 16, "tgt_vocab": 11, "optim": {"lr": 1e-3, "betas": [0.9, 0.98],
                                                                               "eps": 1e-9},
            "model": {"src_vocab": 13, "d_model": 16, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ffn": 32,
                      "dropout": 0.0, "init": "xavier"}}
    execution = BASE | {"device": "cpu", "precision": "fp32", "channels_last": False, "compile": False,
                        "stack": False}
    first = train_translation(toy / "t", tcfg, CPU, execution)
    assert set(first["files"]) == {"model.pt", "curve.json"}
    assert train_translation(toy / "t", tcfg, CPU, execution)["reused"]
    good = (toy / "t/model.pt").read_bytes()
    (toy / "t/model.pt").write_bytes(good[:1000])
    again = train_translation(toy / "t", tcfg, CPU, execution)
    assert not again["reused"] and "model.pt" in capsys.readouterr().out
    assert (toy / "t/model.pt").read_bytes() == good  # retrained to the same bytes
    assert read_json(toy / "t/metrics.json")["files"] == first["files"]


def test_stages_read_only_the_files_a_run_wrote(toy):
    """calibrate, project and mutual_information read logits, weights and snapshots through ``verified``:
    a file swapped with another run's stops the stage in one line (a user error), even outside DVC."""
    import shutil

    from pipeline.training.integrity import DamagedRunError, verified
    train(Path("r0"), 0)
    train(Path("r1"), 1)
    assert verified(Path("r0"), "logits.pt") == Path("r0/logits.pt")
    shutil.copy("r1/logits.pt", "r0/logits.pt")  # the swap calibrate once used without a word
    with pytest.raises(DamagedRunError, match="r0: logits.pt is missing or not the file the run wrote"):
        verified(Path("r0"), "logits.pt")
    with pytest.raises(DamagedRunError, match="records no sha256 of extra.pt"):
        verified(Path("r1"), "extra.pt")
    with pytest.raises(DamagedRunError, match="has not finished"):
        verified(Path("nowhere"), "logits.pt")
    from pipeline.stage import USER_ERRORS
    assert "DamagedRunError" in USER_ERRORS["pipeline.training.integrity"]


def test_the_teachers_pass_uses_the_batch_the_reference_students_were_trained_with(toy, monkeypatch, root):
    """A teacher's logits round differently with another batch size (matrix kernels block by it), and a
    student's 10,800 steps carry that to 1e-4 in test NLL: the Table 4 student retrained with the pass at 512
    instead of the snapshot's 4096 gave NLL 1.23293 against the recorded 1.23303. So the pass's batch is fixed
    in hashed code at the snapshot's value, whatever ``execution.eval_batch_size`` says."""
    import pipeline.training.run as run
    prov = json.loads((root / "results/reference/provenance.json").read_text())["params"]
    snapshot_batch = (prov.get("execution") or prov["train"])["eval_batch_size"]
    seen = []
    real = run.teacher_logits
    monkeypatch.setattr(run, "teacher_logits", lambda *a: seen.append(a[-1]) or real(*a))
    soft = {"kind": "soft_targets", "beta": 0.6, "temperature": 2.0}
    teacher = run.train_run(toy / "teacher", cfg(9, ls(0.0)), CPU, BASE | {"eval_batch_size": 7})
    run.train_run(toy / "student", cfg(0, soft, teacher["key"]), CPU, BASE | {"eval_batch_size": 7}, toy / "teacher")
    assert seen == [run.TEACHER_BATCH] == [snapshot_batch]


def test_a_teacher_whose_weights_were_swapped_stops_its_student(toy):
    """The teacher's model.pt is checked against the sha256 its run recorded before it teaches: another file of
    the right shape (another run's weights) stops the student in one line instead of changing its targets."""
    from pipeline.training.integrity import DamagedRunError
    from pipeline.training.run import train_run
    soft = {"kind": "soft_targets", "beta": 0.6, "temperature": 2.0}
    teacher = train_run(toy / "teacher", cfg(7, ls(0.05)), CPU, BASE)  # a teacher no other test caches
    train_run(toy / "other", cfg(8, ls(0.0)), CPU, BASE)
    (toy / "teacher/model.pt").write_bytes((toy / "other/model.pt").read_bytes())
    with pytest.raises(DamagedRunError, match="model.pt is missing or not the file the run wrote"):
        train_run(toy / "student", cfg(0, soft, teacher["key"]), CPU, BASE, toy / "teacher")


def test_a_donor_with_tampered_metrics_is_not_adopted(toy, monkeypatch):
    """A run with the same key elsewhere is copied only if its metrics pass their seal and ranges too."""
    from pipeline.training.dispatch import Job, train_inline
    monkeypatch.setattr("pipeline.training.dispatch.RUN_ROOTS", [toy / "a", toy / "b"])
    first = train_inline([Job(toy / "a" / "r", cfg(0, ls(0.1)))], CPU, BASE)[0]
    done = toy / "a/r/metrics.json"
    done.write_text(done.read_text().replace(f'"test_acc": {first["test_acc"]}', '"test_acc": 99.99'))
    copy = train_inline([Job(toy / "b" / "r", cfg(0, ls(0.1)))], CPU, BASE)[0]
    assert not copy["reused"] and copy["test_acc"] == first["test_acc"]  # trained again, not copied


def test_finding_the_pending_runs_changes_no_folder(toy):
    """A backend asks which runs are pending before its workers take the folders' locks: the question must not
    clear a folder that a worker may be writing (a state-less folder of another configuration here)."""
    from pipeline.training.dispatch import Job, pending_units
    (toy / "busy").mkdir()
    (toy / "busy/partial.pt").write_bytes(b"a worker's file, before its first checkpoint")
    assert pending_units([Job(toy / "busy", cfg(0, ls(0.1)))], CPU, BASE) == [[0]]
    assert (toy / "busy/partial.pt").read_bytes().startswith(b"a worker's file")


def test_a_damaged_finished_run_is_not_reported_finished(toy):
    """The backends ask ``backend.finished`` (the folder's read-only status) which runs to submit: a finished run
    whose files no longer match their digests must count as unfinished there too, not only when it is reused."""
    from pipeline.training.backend import Job, finished
    from pipeline.training.run import train_run
    from pipeline.training.run_folder import FINISHED, status
    m = train_run(toy / "r", cfg(0, ls(0.1)), CPU, BASE)
    assert status(toy / "r", m["key"]) == FINISHED and finished(Job(toy / "r", cfg(0, ls(0.1))), CPU, BASE)
    (toy / "r/logits.pt").write_bytes((toy / "r/logits.pt").read_bytes()[:100])
    assert status(toy / "r", m["key"]) != FINISHED and not finished(Job(toy / "r", cfg(0, ls(0.1))), CPU, BASE)


@pytest.mark.parametrize("files", ["empty", "absent"])
def test_a_run_that_records_no_digests_is_not_trusted(toy, capsys, files):
    """A metrics.json without file digests (an older writer's, or one edited by hand, unsealed) vouches for
    nothing: the run is neither reported finished nor reused, and is trained again to the same result."""
    from pipeline.io import read_json, write_json
    from pipeline.training.integrity import SEAL, damaged
    from pipeline.training.run_folder import FINISHED, status
    first = train(toy / "r")
    m = read_json(toy / "r/metrics.json")
    (toy / "r" / SEAL).unlink(missing_ok=True)
    write_json(toy / "r/metrics.json", m | {"files": {}} if files == "empty" else
               {k: v for k, v in m.items() if k != "files"})
    assert damaged(toy / "r", {}) and damaged(toy / "r", None)
    assert status(toy / "r", m["key"]) != FINISHED
    again = train(toy / "r")
    assert not again["reused"] and "records no file digests" in capsys.readouterr().out
    assert again["test_acc"] == first["test_acc"] and read_json(toy / "r/metrics.json")["files"] == m["files"]
