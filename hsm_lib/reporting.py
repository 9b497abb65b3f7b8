"""Writing the generated tables: a Markdown file and its JSON twin, atomically, side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from hsm_lib import paths
from hsm_lib.io import atomic_write_text


def _is_estimate(value: Any) -> bool:
    """A mean with its interval (:class:`hsm_lib.eval.stats.Estimate`), told apart without importing
    the statistics here."""
    return hasattr(value, "lo") and hasattr(value, "hi")


def fmt(value: Any, digits: int = 1) -> str:
    if _is_estimate(value):
        return value.format(digits)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> str:
    """A GitHub Markdown table; numeric columns (all cells numbers) are right-aligned."""
    numeric = [all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(fmt(v, digits) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _json_row(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row as a record; an estimate gives its mean under the column and its interval under
    "<column> CI95", so readers of the mean need not know about intervals."""
    out: dict[str, Any] = {}
    for c, v in zip(columns, row):
        if _is_estimate(v):
            out[c], out[f"{c} CI95"] = float(v), [v.lo, v.hi]
        else:
            out[c] = v
    return out


def write_table(name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = (),
                data: dict[str, Any] | None = None, digits: int = 1, reports: Path | None = None) -> Path:
    """Write ``reports/<name>.md`` (title, table, notes) and ``reports/<name>.json`` (the rows as
    records plus ``data``). Returns the Markdown path."""
    reports = reports or paths.reports_dir()
    md = [f"# {title}", "", markdown_table(columns, rows, digits), ""]
    md += [f"- {n}" for n in notes]
    atomic_write_text(reports / f"{name}.md", "\n".join(md).rstrip() + "\n")
    payload = {"title": title, "rows": [_json_row(columns, r) for r in rows], "notes": list(notes), **(data or {})}
    atomic_write_text(reports / f"{name}.json", json.dumps(payload, indent=1) + "\n")
    return reports / f"{name}.md"


def save_figure(fig, name: str, reports: Path | None = None) -> Path:
    """Save a matplotlib figure to ``<reports>/figures/<name>.png`` atomically (150 dpi); ``reports``
    defaults to :func:`hsm_lib.paths.reports_dir`."""
    from hsm_lib.io import atomic_path

    out = (reports / "figures" if reports is not None else paths.figures_dir()) / f"{name}.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format="png")
    return out
