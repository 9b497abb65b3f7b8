"""The pipeline's results in the shapes DVC reads: flat metrics files and per-step curves.

The result tables (``reports/<table>.json``) are ``{"rows": [...]}`` documents that DVC cannot
flatten, so ``dvc metrics show`` and ``dvc exp show`` would list only stage times. This module
reads those tables and writes

* ``reports/metrics/<area>.json``: nested ``{table: {system: {metric: value}}}`` objects of
  numbers only, which DVC flattens to ``table.system.metric`` columns (declared under
  ``metrics:`` in dvc.yaml, so ``dvc metrics diff`` compares two runs);
* ``reports/curves/<model>.tsv``: each trained model's per-step history (``step`` first), and
  ``<model>_val.tsv`` where the trainer validated, declared under ``plots:`` with their axes, so
  ``dvc plots show`` draws them and ``dvc plots diff`` overlays runs.

Every number is read from a file the pipeline wrote; nothing is computed here but the renaming.
Why not dvclive: the trainers already keep their history in each checkpoint's JSON (atomic, and
restored on resume), so a second logger would be a second writer of the same numbers; these
files are that history in DVC's plot format.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from hsm_lib.io import atomic_write_text

HEADLINE_SET = "mixed"   # Tables II-III on the mixed set: the paper's "3 Sets" analog


def slug(text: str) -> str:
    """A DVC-friendly key: lower case, runs of other characters as one ``_``, and no
    "(lower)"/"(higher)" direction suffixes ("KL (lower)" -> "kl", "R@1" -> "r_1")."""
    text = re.sub(r"\((lower|higher)\)", "", str(text))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def row_metrics(row: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, float]:
    """The numeric columns of one table row, slugged; confidence intervals, counts and the
    columns in ``skip`` left out."""
    out = {}
    for column, value in row.items():
        if column in skip or column.endswith(" CI95") or column in ("n", "instructions"):
            continue
        number = _number(value)
        if number is not None:
            out[slug(column)] = number
    return out


def _rows(reports: Path, table: str) -> list[dict[str, Any]]:
    path = reports / f"{table}.json"
    return json.loads(path.read_text()).get("rows", []) if path.is_file() else []


def by_system(rows: list[dict[str, Any]], key: str, test_set: str | None = None) -> dict[str, dict[str, float]]:
    """{slug(row[key]): row_metrics(row)} for the rows of ``test_set`` (all rows if None)."""
    return {slug(r[key]): row_metrics(r, skip=(key, "test set"))
            for r in rows if test_set is None or r.get("test set") == test_set}


def separation_metrics(reports: Path) -> dict[str, Any]:
    """Tables II and III on the mixed set, Table IV on each of its sets, the ceilings."""
    out: dict[str, Any] = {}
    for table, name in (("table2_objective", "table2"), ("table3_semantic", "table3"), ("ceilings", "ceilings")):
        rows = by_system(_rows(reports, table), "system", HEADLINE_SET)
        if rows:
            out[f"{name}_{HEADLINE_SET}"] = rows
    table4 = _rows(reports, "table4_zero_shot")
    for test_set in sorted({r["test set"] for r in table4}):
        out[f"table4_{slug(test_set)}"] = by_system(table4, "system", test_set)
    return out


def retrieval_metrics(reports: Path) -> dict[str, Any]:
    """R@1/5/10 of Table V's rows and of the evaluation CLAP; Table VI's METEOR and CIDEr-D per
    frozen feature (keyed by the row's name before its gloss)."""
    out: dict[str, Any] = {}
    for table, name in (("table5_retrieval", "table5"), ("eval_clap", "eval_clap")):
        rows = by_system(_rows(reports, table), "model")
        if rows:
            out[name] = rows
    captioning = {slug(r["feature"].split(" (")[0].split(":")[0]): row_metrics(r, skip=("feature",))
                  for r in _rows(reports, "table6_captioning")}
    if captioning:
        out["table6"] = captioning
    return out


def probe_metrics(reports: Path) -> dict[str, Any]:
    """Table VII: accuracy % per feature row and probe (the table's ``accuracy`` block)."""
    path = reports / "table7_linear_probe.json"
    if not path.is_file():
        return {}
    accuracy = json.loads(path.read_text()).get("accuracy", {})
    return {"table7": {slug(row): {slug(p): float(v) for p, v in probes.items() if _number(v) is not None}
                       for row, probes in accuracy.items()}}


def codec_metrics(reports: Path) -> dict[str, Any]:
    """Table VIII (MEL distance, LSD, ViSQOL) and the acoustic decoder's ceilings."""
    out = {}
    rows = by_system(_rows(reports, "table8_codec"), "codec")
    if rows:
        out["table8"] = {name: {k: v for k, v in m.items() if k != "kbps"} for name, m in rows.items()}
    path = reports / "ceilings_acoustic.json"
    if path.is_file():
        per_clip = json.loads(path.read_text()).get("per_clip", {})
        out["ceilings_acoustic"] = {slug(system): {slug(m): sum(v) / len(v) for m, v in scores.items() if v}
                                    for system, scores in per_clip.items()}
    return out


def parser_metrics(reports: Path) -> dict[str, Any]:
    """Sec. III-F: the instruction parser's accuracy on each of its sets."""
    rows = _rows(reports, "parser_accuracy")
    out: dict[str, dict] = {}
    for r in rows:   # set -> parser -> task / caption / exact %
        out.setdefault(slug(r["set"].split(" (")[0]), {})[slug(r["parser"].split(" (")[0])] = \
            row_metrics(r, skip=("set", "parser", "decided by learned"))
    return {"parser": out} if out else {}


AREAS = {"separation": separation_metrics, "retrieval": retrieval_metrics, "probes": probe_metrics,
         "codec": codec_metrics, "parser": parser_metrics}


def write_metrics(reports: Path) -> dict[str, Path]:
    """Write ``reports/metrics/<area>.json`` for every area (``{}`` where its tables are
    absent, so the declared file always exists). Returns area -> path."""
    folder = reports / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for area, read in AREAS.items():
        written[area] = folder / f"{area}.json"
        atomic_write_text(written[area], json.dumps(read(reports), indent=1, sort_keys=True) + "\n")
    return written


def history_tables(history: dict[str, list[float]]) -> dict[str, list[dict[str, float]]]:
    """A trainer's history -> {"": per-step rows, "val": per-validation rows}: the columns as
    long as ``step`` go in the first (step first), ``val_*`` columns beside ``val_step`` in the
    second ("val" absent where the trainer did not validate)."""
    steps = history.get("step", [])
    out = {"": [{"step": s, **{k: history[k][i] for k in history if k != "step" and not k.startswith("val")
                              and len(history[k]) == len(steps)}} for i, s in enumerate(steps)]}
    val_steps = history.get("val_step", [])
    if val_steps:
        cols = [k for k in history if k.startswith("val_") and k != "val_step" and len(history[k]) == len(val_steps)]
        out["val"] = [{"step": s, **{k: history[k][i] for k in cols}} for i, s in enumerate(val_steps)]
    return out


def tsv(rows: list[dict[str, float]]) -> str:
    """Rows with the same keys -> tab-separated text with a header line."""
    columns = list(rows[0])
    lines = ["\t".join(columns)] + ["\t".join(repr(float(r[c])) if c != "step" else str(int(r[c])) for c in columns) for r in rows]
    return "\n".join(lines) + "\n"


def write_curves(models_dir: Path, reports: Path, models: tuple[str, ...]) -> list[Path]:
    """``reports/curves/<model>.tsv`` (and ``<model>_val.tsv``) from each model's checkpoint JSON
    history; a model with no checkpoint is skipped. Returns the written paths."""
    folder = reports / "curves"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for model in models:
        config = models_dir / model / "config.json"
        if not config.is_file():
            continue
        history = json.loads(config.read_text()).get("history") or {}
        for suffix, rows in history_tables(history).items():
            if rows:
                path = folder / (f"{model}_{suffix}.tsv" if suffix else f"{model}.tsv")
                atomic_write_text(path, tsv(rows))
                written.append(path)
    return written
