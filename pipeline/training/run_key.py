"""A run's key: the one place it is computed, for classifiers, stacked members and Transformers alike.

The key hashes what determines a run's numbers and nothing else:
- its JSON-able configuration (model, data, loss, optimiser, schedule, inputs, seed; a student's teacher key);
- its execution settings as resolved for the device (``builders.resolve_execution``: bf16 changes the numbers);
- the sha256 of the prepared data file it trains on;
- the numerics code: the import closure of the run's training recipe and of its own model file, found by
  reading the imports of the package's source (``code_closure``), never a hand-written list. The closure stops
  at ``BOOKKEEPING``: modules that move files, lock, reuse or schedule runs but compute nothing a run's numbers
  depend on. Another model's file is not in the closure (models are imported by name), so adding or editing a
  model leaves the other runs valid. Modules are named by their dotted names (pipeline/imports.py), so the key
  does not depend on the working directory.

A finished run folder holds its key in ``metrics.json`` (pipeline/training/run_folder.py); a results
snapshot keeps each run's configuration, execution and data sha256, so ``key_of`` re-derives its key
without the data (pipeline/snapshots/staleness.py).
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import time
import tokenize
from functools import lru_cache
from pathlib import Path

import torch

from ..data import prepared
from ..imports import PACKAGE, ROOT, closure, module_file
from ..io import file_digests
from ..layout import TOKENIZED
from .builders import resolve_execution, stackable

# Where each kind of run's numbers are computed. A stacked member also runs the stacking code.
RECIPE = {"classifier": f"{PACKAGE}.training.run", "stacked": f"{PACKAGE}.training.many",
          "transformer": f"{PACKAGE}.text.translation_run"}
# Imported by the recipes for bookkeeping only: run folders, digests, locks, reuse, backends, files, paths, the
# allocator, and this file (the resolved execution itself is in the key). Their code changes no number a run
# computes; tests/test_run_key.py checks that every module a training run loads is hashed or reached only
# through these.
BOOKKEEPING = frozenset([PACKAGE] + [f"{PACKAGE}.{m}" for m in (
    "io", "layout", "allocator", "training.run_key", "training.run_folder", "training.integrity",
    "training.backend", "training.dispatch")])
TRANSLATION_DATA = TOKENIZED / "multi30k.pt"  # the tokenize stage's output: what a Transformer trains on


@lru_cache(maxsize=None)
def code_closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """Sorted dotted names of the modules ``roots`` import, transitively, short of ``BOOKKEEPING``."""
    return tuple(sorted(closure(list(roots), BOOKKEEPING)))


def kind(cfg: dict, execution: dict) -> str:
    if cfg["arch"] == "transformer":
        return "transformer"
    return "stacked" if execution.get("stack") else "classifier"


def code_roots(cfg: dict, execution: dict) -> tuple[str, ...]:
    """The recipe of the run's kind and its own model (a stacked member's stacked model too)."""
    k, arch = kind(cfg, execution), cfg["arch"]
    roots = [RECIPE[k], f"{PACKAGE}.models.{arch}"]
    if k == "stacked":
        roots += [RECIPE["classifier"], f"{PACKAGE}.models.stacked_{arch}"]
    return tuple(roots)


# When this process imported its code (this module is imported with the training code). A hashed file written
# later is not the code this process runs, and a key from its bytes would name code that never trained the run.
STARTED_NS = time.time_ns()


class CodeChangedError(RuntimeError):
    """A file the key hashes changed after this process had imported it."""


def code_digest(modules: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for m in modules:
        f = module_file(m)
        if f.is_relative_to(ROOT) and f.stat().st_mtime_ns > STARTED_NS:
            raise CodeChangedError(f"{f} changed while this process was running, after it had imported it: its "
                                   "runs would be keyed by code they did not run; run the command again")
        h.update(m.encode() + b"\0" + code_text(f.read_text()).encode() + b"\0")
    return h.hexdigest()


def code_text(source: str) -> str:
    """The source with its comments, docstrings, trailing spaces and blank lines removed: what the key hashes, so
    that rewording a comment or a docstring keeps every run valid. Spans come from ``tokenize`` (comments) and
    ``ast`` (docstrings), so the text does not depend on the Python version's AST dump format."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(row: int, col: int) -> int:  # tokenize and ast count rows from 1 and columns in characters
        return starts[row - 1] + col
    spans = [(offset(*t.start), offset(*t.end)) for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            d = body[0]
            spans.append((offset(d.lineno, d.col_offset), offset(d.end_lineno, d.end_col_offset)))
    for a, b in sorted(spans, reverse=True):
        source = source[:a] + source[b:]
    return "\n".join(line.rstrip() for line in source.splitlines() if line.strip())


def key_of(cfg: dict, data_sha256: str, execution: dict) -> str:
    """The key of a run from its configuration, its resolved execution and its data file's sha256."""
    h = hashlib.sha256(json.dumps(cfg | {"execution": execution}, sort_keys=True).encode())
    h.update(bytes.fromhex(data_sha256))
    h.update(code_digest(code_closure(code_roots(cfg, execution))).encode())
    return h.hexdigest()[:16]


def data_file(cfg: dict) -> Path:
    """The prepared data file a run trains on."""
    return TRANSLATION_DATA if cfg["arch"] == "transformer" else prepared.paths(cfg["dataset"])[0]


_SHA: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a data file, remembered per (path, size, mtime): a stage asks for it once per run."""
    st = Path(path).stat()
    memo = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _SHA:
        _SHA[memo] = file_digests(path)["sha256"]
    return _SHA[memo]


def run_key(cfg: dict, device: torch.device, execution: dict) -> tuple[str, dict]:
    """(key, resolved execution) of the run ``cfg`` under the ``execution`` settings of params.yaml."""
    resolved = resolve_execution(execution, device, cfg["arch"], stackable=stackable(cfg))
    return key_of(cfg, file_sha256(data_file(cfg)), resolved), resolved
