"""A prepared GPU session: the CUDA path checked, benchmarked and the paper's runs trained in priority
order within a deadline, on a machine without dvc, and folded back into results/<profile>/.

carry.py    what the session takes along (.gpu/: datasets, pieces done, resumable state)
session.py  the device side: self-test, benchmark, the plan's pieces until the deadline
stages.py   the pipeline's stages in dvc.yaml's order, without dvc
selftest.py the training path checked on the device in under a minute
fold.py     the import: what came back, verified and folded into results/<profile>/

The command line is tools/gpu (`python -m tools.gpu pack|run|import|estimate`); docs/gpu_session.md says how
to run a session. The pieces and their order are results/<profile>/gpu_plan.yaml (pipeline/snapshots/plan.py).
"""
