"""Importing the pipeline changes nothing in the process: no umask, allocator or directory change at import.

The allocator settings are applied where a process starts to work (`pipeline.stage.run`, a backend's worker).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Module-level calls that only configure the module's own objects, or that the module exists to make.
ALLOWED = {"Loader.add_implicit_resolver", "Loader.add_constructor",  # yaml12's own Loader subclass
           "matplotlib.use"}  # figures.py: the non-interactive backend, before it imports pyplot


def _module_level(stmts):
    for s in stmts:
        if isinstance(s, ast.If):
            if "__name__" in ast.unparse(s.test):
                continue  # `if __name__ == "__main__":` runs only as a script
            yield from _module_level(s.body + s.orelse)
        elif not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield s


# Calls that change the process, wherever they appear at module level (`X = os.umask(0)` included).
PROCESS_STATE = {"umask", "chdir", "mallopt", "keep_freed_memory", "set_num_threads", "manual_seed", "seed",
                 "putenv", "use_deterministic_algorithms", "set_default_dtype", "setrecursionlimit"}


def bare_calls(source: str) -> list[str]:
    """Calls made at import as statements of their own (`f()`, not `X = f()`), and any call at import of a
    function that changes the process (``PROCESS_STATE``), by the callee's name."""
    out = []
    for s in _module_level(ast.parse(source).body):
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            out.append(ast.unparse(s.value.func))
            continue
        out += [ast.unparse(n.func) for n in ast.walk(s) if isinstance(n, ast.Call)
                and ast.unparse(n.func).rpartition(".")[2] in PROCESS_STATE]
    return out


def test_bare_calls_finds_a_call_at_import_and_ignores_functions_and_main():
    src = ("import os\nos.umask(0)\nif True:\n    f()\nX = os.umask(0)\nY = sorted([])\ndef g():\n    h()\n"
           "if __name__ == '__main__':\n    run()\n")
    assert bare_calls(src) == ["os.umask", "f", "os.umask"]


def test_no_module_of_the_pipeline_calls_anything_at_import_but_its_own_setup():
    found = {f"{f.relative_to(ROOT)}: {c}" for f in (ROOT / "pipeline").rglob("*.py") if f.name != "__main__.py"
             for c in bare_calls(f.read_text()) if c not in ALLOWED}
    assert not found, found


def test_importing_every_module_leaves_the_umask_alone():
    code = """
import importlib, os, pkgutil
calls = []
real = os.umask
os.umask = lambda m: calls.append(m) or real(m)
import pipeline
for m in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
    if not m.name.endswith("__main__"):
        importlib.import_module(m.name)
print(len(calls))
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-1] == "0"


def test_a_written_file_gets_the_process_umask(tmp_path):
    code = ("import os, sys; from pipeline.io import write_text; os.umask(0o027); write_text(sys.argv[1], 'x'); "
            "print(oct(os.stat(sys.argv[1]).st_mode & 0o777))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "f.txt")], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "0o640"   # 0666 less the umask set after the import
