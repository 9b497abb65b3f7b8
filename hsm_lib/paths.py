"""Every path the project writes goes through here (no absolute paths elsewhere).

``HSM_DATA_ROOT`` moves the generated data and ``HSM_REPORTS_DIR`` the reports (the tests
point both at temporary folders, so a test run never touches the committed reports). Without
``HSM_REPORTS_DIR``, a pipeline stage (``HSM_PIPELINE_STAGE`` set by :mod:`hsm_lib.stage`)
writes the committed reports/, and anything else (a notebook run by hand) scratch/reports/.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "params.yaml"
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
SCRATCH_REPORTS = ROOT / "scratch" / "reports"
PIPELINE_STAGE_ENV = "HSM_PIPELINE_STAGE"


def data_root() -> Path:
    return Path(os.environ.get("HSM_DATA_ROOT", ROOT / "data"))


def profile_dir(profile: str) -> Path:
    """Where a profile's artefacts live: data/<profile>/."""
    return data_root() / profile


def corpus_dir(profile: str) -> Path:
    return profile_dir(profile) / "corpus"


def features_dir(profile: str) -> Path:
    """S of the sets several stages read, written once by the audiomae stage (FeatureStore)."""
    return profile_dir(profile) / "features"


def ood_dir(profile: str) -> Path:
    """The out-of-domain test set (stage ``ood_data``): data/<profile>/ood/testsets/ood.*."""
    return profile_dir(profile) / "ood"


def executed_notebook(profile: str, name: str) -> Path:
    return profile_dir(profile) / "notebooks" / f"{name}.ipynb"


def reports_dir(profile: str | None = None) -> Path:
    """Where tables, figures and metrics go: ``HSM_REPORTS_DIR`` if set (tests use a temp dir);
    else reports/ inside a pipeline stage (``HSM_PIPELINE_STAGE`` set); else scratch/reports/, so
    that a notebook stepped through by hand never overwrites the committed reports."""
    if os.environ.get("HSM_REPORTS_DIR"):
        return Path(os.environ["HSM_REPORTS_DIR"])
    if os.environ.get(PIPELINE_STAGE_ENV):
        return REPORTS
    return SCRATCH_REPORTS


def figures_dir(profile: str | None = None) -> Path:
    """Where figures go: ``reports_dir()/figures``."""
    return reports_dir(profile) / "figures"


def __getattr__(name: str) -> Path:
    # FIGURES used to be a constant (reports/figures); it now follows reports_dir().
    if name == "FIGURES":
        return figures_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train_state_dir(profile: str, stage: str, name: str | None = None) -> Path:
    """Where a stage's trainers keep their resumable state: data/<profile>/train_state/<stage>[/<name>].

    Not a DVC output on purpose: DVC deletes a stage's outputs before it reruns the stage, and
    this folder must survive a killed run so the rerun resumes. The stage runner removes it once
    the stage has finished."""
    base = profile_dir(profile) / "train_state" / stage
    return base / name if name else base


def resumable_state_dir(profile: str, stage: str, name: str) -> Path | None:
    """The training-state folder a trainer should resume from: inside a pipeline stage,
    :func:`train_state_dir`; for a notebook run by hand, None (each run trains afresh, so an
    edited cell never silently picks up an old run's weights)."""
    return train_state_dir(profile, stage, name) if os.environ.get(PIPELINE_STAGE_ENV) else None
