# The two commands of the README. Each sets up .venv from the pinned
# requirements on first use. Offline, export DATA_MIRROR=../shared/datasets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# DVC runs each stage's `python -m pipeline.stages.<stage>` through PATH: the venv's must come first.
export PATH := $(CURDIR)/$(BIN):$(PATH)

PROFILE ?= reference
GPU_PROFILE ?= paper_offline

.PHONY: demo test smoke results results-status gpu-pack gpu-import venv paper lint vendor-vega clean-venv

demo: $(STAMP)  ## run the whole pipeline on the default profile
	$(BIN)/python -m pipeline.config
	$(BIN)/dvc repro
	@echo; $(BIN)/python -m pipeline.reporting.summary

test: $(STAMP) lint  ## lint, then run the test suite on two workers, a file each (tests/conftest.py)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

smoke: $(STAMP)  ## every stage on tiny settings in a throwaway copy (for code changes)
	tools/smoke.sh

results: $(STAMP)  ## run or extend results/$(PROFILE)/ piece by piece, committing each piece
	$(BIN)/python tools/results.py run $(PROFILE) --commit

results-status: $(STAMP)  ## which snapshot runs today's code or params would retrain
	$(BIN)/python tools/results.py status

gpu-pack: $(STAMP)  ## prepare .gpu/ for a GPU session (docs/gpu_session.md)
	$(BIN)/python -m tools.gpu pack $(GPU_PROFILE)

gpu-import: $(STAMP)  ## fold a GPU session's returned files (DIR=...) into results/$(GPU_PROFILE)/
	$(BIN)/python -m tools.gpu import $(GPU_PROFILE) $(DIR)

paper: $(STAMP)  ## the paper profile as a DVC experiment (GPU-sized)
	$(BIN)/dvc exp run -S profile=paper

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -c constraints.txt
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)

lint: $(STAMP)  ## static checks (pyflakes, pycodestyle errors, import order)
	$(BIN)/python -m ruff check --select F,E,I --line-length 120 pipeline tools benchmarks tests

vendor-vega: $(STAMP)  ## rebuild .dvc/plots/offline.html from the npm registry
	$(BIN)/python tools/vendor_vega.py
