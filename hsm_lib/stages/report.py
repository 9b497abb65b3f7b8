"""Stage ``report``: the reports' index, ``reports/README.md``, and the results in DVC's shapes.

Which file holds each of the paper's tables and figures, which stage makes it, what stands in
for what cannot be had offline, the headline numbers and the stage times of the last run. It
also writes the headline numbers as flat metrics files (``reports/metrics/*.json``: ``dvc
metrics show``) and each model's training history as curves (``reports/curves/*.tsv``: ``dvc
plots show``), both read from what the other stages wrote (:mod:`hsm_lib.eval.dvc_metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hsm_lib import paths
from hsm_lib.config import profile_section
from hsm_lib.eval.dvc_metrics import write_curves, write_metrics
from hsm_lib.eval.report_index import write_reports_readme

# Every model the pipeline trains, by its folder under data/<profile>/models: its curve file's name.
CURVE_MODELS = ("audiomae", "qaudio", "clap_baseline", "codec", "acoustic_lm", "h1", "h2", "single",
                "h1_joint", "h2_joint", "resunet_film", "eval_clap")


@dataclass
class ReportResult:
    """What the report notebook shows."""

    path: Path                         # the written README.md
    markdown: str
    metrics: dict[str, Path]           # area -> reports/metrics/<area>.json
    curves: list[Path]                 # reports/curves/<model>[_val].tsv


def run(profile: str, params: dict | None = None, progress: bool = True) -> ReportResult:
    """Write the reports' index from the reports already written; ``params`` (the profile's empty
    ``report`` section) is read for uniformity and unused."""
    if params is None:
        params = profile_section("report", profile)
    reports = paths.reports_dir()
    metrics = write_metrics(reports)
    curves = write_curves(paths.profile_dir(profile) / "models", reports, CURVE_MODELS)
    path = write_reports_readme(reports, profile)
    return ReportResult(path, path.read_text(), metrics, curves)
