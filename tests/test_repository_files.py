"""What a research repository is expected to carry: a licence, a citation, stage descriptions, and
requirements that the code imports."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# requirement name -> the module it is imported as, where they differ
MODULE = {"pillow": "PIL", "pyyaml": "yaml", "ruamel.yaml": "ruamel"}
NOT_IMPORTED = {"dvc": "the `dvc` command", "pytest": "the test runner", "pytest-xdist": "its two workers (Makefile)",
                "ruff": "`make lint`"}


def imported_modules() -> set[str]:
    names = set()
    for d in ("pipeline", "tools", "tests", "benchmarks"):
        for f in (ROOT / d).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names


def test_every_pinned_requirement_is_imported_or_is_a_tool():
    pins = [re.split(r"[=<>\s]", ln.strip())[0] for ln in (ROOT / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    used = imported_modules()
    unused = [p for p in pins if p not in NOT_IMPORTED and MODULE.get(p.lower(), p.lower()) not in used]
    assert not unused, f"pinned in requirements.txt, imported nowhere: {unused} (transitive: constraints.txt)"


def test_every_dvc_stage_says_what_it_does():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = [n for n, s in stages.items() if not str(s.get("do", s).get("desc", "")).strip()]
    assert not missing, missing


def test_licence_and_citation_are_there_and_cite_both_papers():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"].startswith("1.2") and cff["type"] == "software" and cff["license"] == "MIT"
    titles = [r["title"] for r in cff["references"]]
    assert any("When does label smoothing help" in t for t in titles)
    assert any("label smoothing" in t.lower() and "[Re]" in t for t in titles)
