"""DVC stage `tables`: our numbers beside the papers', as Markdown and flat JSON.

Usage: python -m pipeline.stages.tables
Reads the metrics of the train, calibrate, project, student, distill,
mutual_information and evaluate_translation stages and writes
metrics/tables.md (for people) and metrics/tables.json (flat keys, for
`dvc metrics diff`).
"""
from __future__ import annotations

from ..config import load_params
from ..io import write_json, write_text
from ..layout import TABLES_JSON, TABLES_MD
from ..reporting.paper_tables import document
from ..stage import run


def main() -> int:
    md, flat = document(load_params())
    write_text(TABLES_MD, md)
    write_json(TABLES_JSON, flat)
    return 0


if __name__ == "__main__":
    run(main)
