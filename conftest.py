"""Test-session environment, for tests/ and the notebooks under nbval alike."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Set before anything imports hsm_lib.paths or starts a notebook kernel (kernels inherit the
# environment): generated data and reports of the test run go to a temporary folder, and no
# library may reach for a model hub.
_TMP = Path(tempfile.mkdtemp(prefix="hsm-tests-"))
os.environ.setdefault("HSM_DATA_ROOT", str(_TMP / "data"))
os.environ.setdefault("HSM_REPORTS_DIR", str(_TMP / "reports"))
for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(flag, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
