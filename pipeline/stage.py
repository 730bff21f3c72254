"""Entry-point wrapper shared by the stages: known failures become one clear line.

Bad or unreadable params, a device that is not there, unobtainable or
corrupted data, diverged training, a run folder another process is training
and an output folder that cannot be written are the user's to fix, so they
are reported as `error: ...` with exit status 2, not a traceback. Anything
else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
from typing import Callable

from .calibration import CalibrationError
from .config import ParamError, ParamsFileError
from .data.fetch import DatasetError
from .training.integrity import RunBusyError
from .training.loop import DivergenceError


def run(main: Callable[[], int]) -> None:
    try:
        code = main()
    except (ParamError, ParamsFileError, DatasetError, DivergenceError, CalibrationError, RunBusyError) as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    except PermissionError as e:  # outputs are written atomically: the previous files are still intact
        print(f"error: cannot write {e.filename}: {e.strerror} (make the folder writable and run again)",
              file=sys.stderr)
        code = 2
    sys.exit(code)
