"""The one training loop (loop.py) and the run bookkeeping around it (run.py)."""
