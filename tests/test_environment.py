"""environment.yml (conda) and pyproject.toml (pip) name the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml

from hsm_lib import paths


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = {_name(r): r.replace(" ", "") for r in project["dependencies"]}
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_reqs = {_name(r): r.replace(" ", "") for r in pip_section}
    assert set(conda_reqs) == set(pip_reqs)
    assert conda_reqs == pip_reqs  # same version ranges too


def test_torch_pins_agree_with_constraints():
    pins = dict(line.split("==") for line in (paths.ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins["torch"] == "2.14.1" and pins["torchaudio"] == "2.11.0"
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    deps = {_name(d): d for d in project["dependencies"]}
    assert "<=2.14.1" in deps["torch"] and ">=2.11" in deps["torchaudio"]


def test_no_deps_requirements_are_installed():
    """requirements-nodeps.txt is installed by setup.sh with --no-deps; each package imports."""
    import importlib

    reqs = [line.split("==")[0] for line in (paths.ROOT / "requirements-nodeps.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert reqs == ["aisfx"]
    for name in reqs:
        importlib.import_module(name)
