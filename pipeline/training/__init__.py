"""Training: the loop (loop), a classifier's recipe (run), stacking (many, stacking), the run key (run_key), the
run folder's lifecycle (run_folder, integrity), restoring a trained model (restore), and where runs train (backend)."""
