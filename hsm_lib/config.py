"""Profiles: one code path, three sizes (smoke, cpu, paper), all in params.yaml.

``params.yaml`` has a top-level ``profile`` (the one switch) and a section per profile whose
keys are the keyword arguments of what each stage builds.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

import yaml

from hsm_lib import paths

PROFILES = ("smoke", "cpu", "paper")
T = TypeVar("T")


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


def check_keys(params: Mapping[str, Any], known: Iterable[str], section: str) -> None:
    """Raise :class:`ConfigError` naming every key of ``params`` that is not in ``known``, and the
    section it sits in: a typo in params.yaml must fail, not train silently with a default."""
    known = set(known)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in params.yaml section '{section}' "
                          f"(known: {', '.join(sorted(known))})")


def from_section(cls: type[T], params: Mapping[str, Any] | None, section: str, **extra: Any) -> T:
    """Build the dataclass ``cls`` from a params.yaml mapping, strictly (see :func:`check_keys`).
    ``extra`` supplies constructor arguments that do not come from params.yaml."""
    params = dict(params or {})
    check_keys(params, {f.name for f in fields(cls)} - set(extra), section)  # type: ignore[arg-type]
    return cls(**params, **extra)
