"""A prepared GPU session: the CUDA path checked, benchmarked and the paper's runs trained in priority
order within a deadline, on a machine without dvc, and folded back into results/<profile>/.

    python -m tools.gpu pack PROFILE            # here: .gpu/ (datasets, pieces done, resumable state) to carry
    python3 -m tools.gpu run --out DIR          # there: self-test, benchmark, pieces until the deadline
    python -m tools.gpu import PROFILE DIR      # here: fold what came back into results/PROFILE/
    python -m tools.gpu estimate PROFILE        # projected device time per piece (FLOP counts)

The pieces and their order are results/<profile>/gpu_plan.yaml. The code is pipeline/gpu_session/ (estimate.py,
which counts FLOPs with benchmarks/, stays here); docs/gpu_session.md says how to run it.
"""
