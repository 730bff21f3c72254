"""Markdown tables for metrics/tables.md (the tables stage and the report helpers share them)."""
from __future__ import annotations


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fmt(v: float | None, std: float | None = None, nd: int = 2) -> str:
    """``v`` to ``nd`` decimals, with ``± std`` when there is a spread; an em dash for a missing value."""
    if v is None:
        return "—"
    return f"{v:.{nd}f}" + (f" ± {std:.{nd}f}" if std else "")
