"""Entry-point wrapper shared by the stages: known failures become one clear line.

Bad params, unobtainable or corrupted data and diverged training are the
user's to fix, so they are reported as `error: ...` with exit status 2, not a
traceback. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
from typing import Callable

from .calibration import CalibrationError
from .config import ParamError
from .data.fetch import DatasetError
from .training.integrity import RunBusyError
from .training.loop import DivergenceError


def run(main: Callable[[], int]) -> None:
    try:
        code = main()
    except (ParamError, DatasetError, DivergenceError, CalibrationError, RunBusyError) as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)
