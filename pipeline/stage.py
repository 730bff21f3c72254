"""Entry-point wrapper shared by the stages: known failures become one clear line.

Bad or unreadable params, a device that is not there, unobtainable or
corrupted data, diverged training, a run folder another process is training
and an output folder that cannot be written are the user's to fix, so they
are reported as `error: ...` with exit status 2, not a traceback; so is a full
disk. Ctrl-C is one line and exit status 130 (what was kept, how to resume), and so is SIGTERM (`kill`,
`timeout`, a scheduler's time limit). Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import errno
import signal
import sys
from typing import Callable

from .allocator import keep_freed_memory

# The user's errors, by the module that raises each. They are looked up among the modules the stage
# has imported rather than imported here: a stage that never loaded the training loop cannot diverge,
# and importing it here would make every stage's code (its dvc.yaml deps) include the training loop.
USER_ERRORS = {"pipeline.config": ("ParamError", "ParamsFileError"), "pipeline.data.fetch": ("DatasetError",),
               "pipeline.training.loop": ("DivergenceError",), "pipeline.formulas.reliability": ("CalibrationError",),
               "pipeline.training.integrity": ("RunBusyError", "DamagedRunError"),
               "pipeline.training.run_key": ("CodeChangedError",)}


def user_errors() -> tuple[type, ...]:
    return tuple(getattr(sys.modules[m], n) for m, names in USER_ERRORS.items() if m in sys.modules for n in names)


def _close_progress_bars() -> None:
    """Close the progress bars a failure left open, so the one line below starts a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or []):
        bar.close()


def stop_on_sigterm() -> None:
    """Make SIGTERM stop this process as Ctrl-C does, so the same handlers keep what was done and say how to
    go on. Python's default for SIGTERM is to die at once, leaving a stage's metrics or a tool's provenance unwritten.
    (SIGINT itself reaches no process started with ``&`` from a script: such a process starts with it ignored.)"""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


def run(main: Callable[[], int]) -> None:
    stop_on_sigterm()
    keep_freed_memory()  # this process trains or evaluates: keep freed memory in the heap (allocator.py)
    try:
        code = main()
    except PermissionError as e:  # outputs are written atomically: the previous files are still intact
        _close_progress_bars()
        print(f"error: cannot write {e.filename}: {e.strerror} (make the folder writable and run again)",
              file=sys.stderr)
        code = 2
    except KeyboardInterrupt:  # the run in progress keeps its last checkpoint; finished runs are complete
        _close_progress_bars()
        print("interrupted: finished runs and the last checkpoint of the run in progress are kept; run the same "
              "command again to resume", file=sys.stderr)
        code = 130
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        _close_progress_bars()
        print(f"error: no space left on the device while writing {e.filename or 'an output'}; nothing was lost "
              "(every file is written to a temporary name first); free space and rerun", file=sys.stderr)
        code = 2
    except Exception as e:  # noqa: BLE001 - re-raised unless it is the user's to fix
        if not isinstance(e, user_errors()):
            raise
        _close_progress_bars()
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)
