"""The DVC stages: one entry point per stage of dvc.yaml, named as its stage (`python -m pipeline.stages.<stage>`)."""
