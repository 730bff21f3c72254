"""Results snapshots: a profile run in pieces (``plan``), kept under results/<profile>/ (``writer``), with the
machine it ran on (``machine``). Both ways of running pieces use them: `tools/results.py` (cumulative
pieces, `dvc repro` in a work tree) and `tools/gpu` (independent pieces in a short GPU session)."""
