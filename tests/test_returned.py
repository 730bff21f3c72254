"""A returned GPU session's folder checked before use (pipeline/snapshots/returned.py), and the import's one-line
refusals, without running a session (the rehearsal's end-to-end cases: tests/test_gpu_session.py)."""
from __future__ import annotations

import copy

import pytest

from pipeline.snapshots.returned import FoldError, check_fields

GOOD = {"profile": "smoke", "started": "2026-12-08T00:00:00+00:00", "machine": {"gpu": None}, "files": {},
        "seconds": 12, "pieces": [{"name": "fcn", "status": "done", "seconds": 3},
                                  {"name": "long", "status": "failed (exit 1)"}, {"name": "x", "status": "cut"}],
        "resume": [{"parts": ["resume.tar.00"], "sha256": "a" * 64}]}


def test_a_well_formed_session_passes():
    check_fields(copy.deepcopy(GOOD), "session.json")


@pytest.mark.parametrize("edit, says", [
    (lambda i: i.pop("profile"), "valid profile"), (lambda i: i.update(started=3), "valid started"),
    (lambda i: i.update(machine=None), "valid machine"), (lambda i: i.update(files=[]), "valid files"),
    (lambda i: i.update(seconds=True), "valid seconds"), (lambda i: i.update(files={"a": 1}), "name: sha256"),
    (lambda i: i["pieces"][0].pop("status"), "valid status of piece fcn"),
    (lambda i: i["pieces"][0].update(status="finished"), "valid status of piece fcn"),
    (lambda i: i["pieces"][0].pop("seconds"), "valid seconds of piece fcn"),
    (lambda i: i["pieces"][1].update(why=["x"]), "valid why of piece long"),
    (lambda i: i.update(resume=[{"sha256": "a" * 64}]), "valid resume"),
    (lambda i: i.update(resume=[{"parts": [["x"]], "sha256": "a" * 64}]), "valid resume")])
def test_a_field_the_import_reads_is_checked_in_one_line(edit, says):
    info = copy.deepcopy(GOOD)
    edit(info)
    with pytest.raises(FoldError, match=says):
        check_fields(info, "session.json")


@pytest.mark.parametrize("fault, code, says", [
    (KeyboardInterrupt(), 130, "interrupted: results/smoke is as it was or, if the import had reached its last"),
    (OSError(28, "No space left on device", "results/.smoke.import.x/smoke/runs.json"), 2,
     "error: no space left on the device while writing results/.smoke.import.x/smoke/runs.json; results/smoke is as")])
def test_an_interrupted_or_full_disk_import_says_so_in_one_line(monkeypatch, capsys, fault, code, says):
    import argparse

    from pipeline.gpu_session import fold
    from tools.gpu import __main__ as cli

    def broken(*a, **k):
        raise fault
    monkeypatch.setattr(fold, "fold", broken)
    assert cli._import(argparse.Namespace(profile="smoke", dir="x")) == code
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1
