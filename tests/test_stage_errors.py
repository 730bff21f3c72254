"""A stage's known failures end in one line and an exit status, not a traceback (pipeline/stage.py)."""
from __future__ import annotations

import errno

import pytest

from pipeline.stage import run


def _exit(main, capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as e:
        run(main)
    return e.value.code, capsys.readouterr().err.strip().splitlines()


def test_a_full_disk_is_one_line_naming_the_file_and_exit_2(capsys):
    def main():
        raise OSError(errno.ENOSPC, "No space left on device", "models/x/.model.pt.tmp")
    code, lines = _exit(main, capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: no space left on the device while writing models/x/.model.pt.tmp")
    assert "nothing was lost" in lines[0] and "free space and rerun" in lines[0]


def test_ctrl_c_is_one_line_saying_what_was_kept_and_exit_130(capsys):
    def main():
        raise KeyboardInterrupt
    code, lines = _exit(main, capsys)
    assert code == 130 and len(lines) == 1 and "kept" in lines[0] and "resume" in lines[0]


def test_sigterm_stops_a_stage_as_ctrl_c_does(capsys):
    import os
    import signal

    def main():
        os.kill(os.getpid(), signal.SIGTERM)  # as `kill`, `timeout` or a scheduler's time limit sends it
        raise AssertionError("SIGTERM did not interrupt the stage")
    before = signal.getsignal(signal.SIGTERM)
    try:
        code, lines = _exit(main, capsys)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert code == 130 and len(lines) == 1 and lines[0].startswith("interrupted:")


def test_another_os_error_is_a_bug_and_keeps_its_traceback():
    def main():
        raise OSError(errno.EIO, "Input/output error")
    with pytest.raises(OSError):
        run(main)


def test_a_write_that_fails_for_lack_of_space_names_the_file_and_leaves_no_temporary(tmp_path):
    from pipeline.io import _atomic

    def full(tmp):
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")   # as a failed write raises it: no filename
    target = tmp_path / "run" / "metrics.json"
    with pytest.raises(OSError) as e:
        _atomic(target, full)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert list(target.parent.iterdir()) == []
