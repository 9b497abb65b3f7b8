"""Shared fixtures. Every test runs offline and writes only to temporary folders."""

from __future__ import annotations

import pytest

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
