"""Stage ``report``: the reports' index, ``reports/README.md``.

Which file holds each of the paper's tables and figures, which stage makes it, what stands in
for what cannot be had offline, the headline numbers and the stage times of the last run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hsm_lib import paths
from hsm_lib.config import profile_section
from hsm_lib.eval.report_index import write_reports_readme


@dataclass
class ReportResult:
    """What the report notebook shows."""

    path: Path                         # the written README.md
    markdown: str


def run(profile: str, params: dict | None = None, progress: bool = True) -> ReportResult:
    """Write the reports' index from the reports already written; ``params`` (the profile's empty
    ``report`` section) is read for uniformity and unused."""
    if params is None:
        params = profile_section("report", profile)
    path = write_reports_readme(paths.reports_dir(), profile)
    return ReportResult(path, path.read_text())
