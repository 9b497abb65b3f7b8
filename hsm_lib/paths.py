"""Every path the project writes goes through here (no absolute paths elsewhere).

``HSM_DATA_ROOT`` moves the generated data and ``HSM_REPORTS_DIR`` the reports (the tests
point both at temporary folders, so a test run never touches the committed reports).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "params.yaml"
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
FIGURES = REPORTS / "figures"


def data_root() -> Path:
    return Path(os.environ.get("HSM_DATA_ROOT", ROOT / "data"))


def profile_dir(profile: str) -> Path:
    """Where a profile's artefacts live: data/<profile>/."""
    return data_root() / profile


def corpus_dir(profile: str) -> Path:
    return profile_dir(profile) / "corpus"


def executed_notebook(profile: str, name: str) -> Path:
    return profile_dir(profile) / "notebooks" / f"{name}.ipynb"


def reports_dir(profile: str | None = None) -> Path:
    """Where tables, figures and metrics go: reports/, or ``HSM_REPORTS_DIR`` (tests use a temp dir)."""
    return Path(os.environ.get("HSM_REPORTS_DIR", REPORTS))
