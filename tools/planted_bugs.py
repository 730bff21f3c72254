"""Plant each defect the tests are meant to pin, one at a time, and check that its test fails.

    python tools/planted_bugs.py          # a line per defect: caught / MISSED, and the test's summary
    python tools/planted_bugs.py --suite  # the kill rate of the whole fast suite: every defect against all of it
    python tools/planted_bugs.py --last 12   # only the newest 12 defects of tools/planted_bugs.yaml

Each entry of tools/planted_bugs.yaml is a one-line bug that once passed the fast tests, a defect of the
replication's code, or a plausible slip written after its test: the file, the text it replaces, the bug, and
the test (or test file) that must fail, or ``suite`` for a defect written without looking at the tests: it
counts as caught if any test of the fast suite fails (``fast_suite``: every test file but the end-to-end DVC run, the
kill-and-resume processes and the GPU-session rehearsal). With ``--suite`` every defect meets the whole fast
suite (its own test first, then the files that name the mutated module), and the kill rate is printed. The file is
restored after each run (also on Ctrl-C). Exit status 1 if any defect is missed. About a minute on 2 cores;
with --suite, a fast-suite run for each missed defect more.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
P = [(r["defect"], r["file"], r["replace"], r["with"], r["caught_by"])
     for r in yaml.safe_load((ROOT / "tools" / "planted_bugs.yaml").read_text())]


SLOW = ("tests/test_pipeline_e2e.py", "tests/test_resume_process.py", "tests/test_gpu_session.py")


def fast_suite(mutated: Path) -> list[str]:
    """Every fast test file, those that name the mutated module first: the verdict is the whole suite's (any
    failure catches the defect), the order only makes a caught defect stop sooner."""
    files = sorted(str(f.relative_to(ROOT)) for f in (ROOT / "tests").glob("test_*.py")
                   if str(f.relative_to(ROOT)) not in SLOW)
    name = mutated.stem if mutated.stem != "__init__" else mutated.parent.name
    return sorted(files, key=lambda f: name not in (ROOT / f).read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", action="store_true", help="every defect against the whole fast suite")
    ap.add_argument("--last", type=int, help="only the last N defects of the list (the newest)")
    a = ap.parse_args()
    suite = a.suite
    rows = []
    for name, f, old, new, test in P[-a.last:] if a.last else P:
        rows.append(check(name, ROOT / f, old, new, test, suite))
        print(" | ".join(rows[-1]), flush=True)
    caught = sum(r[2] == "caught" for r in rows)
    print(f"{caught} of {len(rows)} caught ({100 * caught / len(rows):.0f} %)"
          + (" by the whole fast suite" if suite else " by their own tests (the fast suite for 'suite' ones)"))
    return 1 if caught < len(rows) else 0


def check(name: str, p: Path, old: str, new: str, test: str, suite: bool) -> tuple[str, str, str, str]:
    orig = p.read_text()
    if orig.count(old) != 1:
        return name, test, "MISSED", f"the text to replace is not in {p} exactly once: update this table"
    p.write_text(orig.replace(old, new))
    try:
        # Its own test first: if that fails, so does the whole suite (which holds it). Otherwise (or for a
        # 'suite' defect) the fast suite decides.
        runs = ([[test]] if test != "suite" else []) + ([fast_suite(p)] if suite or test == "suite" else [])
        for args in runs:
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args],
                               capture_output=True, text=True, cwd=ROOT)
            last = ([ln for ln in r.stdout.splitlines() if ln.strip()] or ["no output"])[-1]
            if r.returncode != 0:
                return name, test.split("::")[-1], "caught", last
        return name, test.split("::")[-1], "MISSED", last
    finally:
        p.write_text(orig)


if __name__ == "__main__":
    sys.exit(main())
