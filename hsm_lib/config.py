"""Profiles: one code path, three sizes (smoke, cpu, paper), all in params.yaml.

``params.yaml`` has a top-level ``profile`` (the one switch) and a section per profile whose
keys are the keyword arguments of what each stage builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hsm_lib import paths

PROFILES = ("smoke", "cpu", "paper")


class ConfigError(ValueError):
    """params.yaml is missing, malformed, or names an unknown profile or section."""


def load_params(path: Path | None = None) -> dict[str, Any]:
    path = Path(path or paths.PARAMS)
    if not path.exists():
        raise ConfigError(f"{path}: not found")
    params = yaml.safe_load(path.read_text())
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


def active_profile(params: dict[str, Any] | None = None) -> str:
    params = params if params is not None else load_params()
    profile = params.get("profile", "cpu")
    if profile not in PROFILES:
        raise ConfigError(f"profile '{profile}' is not one of {', '.join(PROFILES)}")
    return profile


def profile_section(section: str, profile: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``<profile>.<section>`` mapping of params.yaml (profile defaults to the active one)."""
    params = params if params is not None else load_params()
    profile = profile or active_profile(params)
    try:
        return dict(params[profile][section])
    except (KeyError, TypeError):
        raise ConfigError(f"params.yaml has no section '{profile}.{section}'") from None
