"""Shared fixtures. Every test runs offline and writes only to temporary folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Set before anything imports hsm_lib.paths or starts a notebook kernel (kernels inherit the
# environment): generated data and reports of the test run go to a temporary folder, and no
# library may reach for a model hub.
_TMP = Path(tempfile.mkdtemp(prefix="hsm-tests-"))
os.environ.setdefault("HSM_DATA_ROOT", str(_TMP / "data"))
os.environ.setdefault("HSM_REPORTS_DIR", str(_TMP / "reports"))
for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(flag, "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def smoke_cfg():
    from hsm_lib.config import profile_section
    from hsm_lib.data.build import DataConfig

    return DataConfig.from_params(profile_section("data", "smoke"))


@pytest.fixture(scope="session")
def smoke_corpus(smoke_cfg, tmp_path_factory):
    """The smoke profile's data stage, built once per test session: (out_dir, summary)."""
    from hsm_lib.data.build import build_corpus

    out = tmp_path_factory.mktemp("smoke") / "corpus"
    summary = build_corpus(smoke_cfg, out, progress=False)
    return out, summary
