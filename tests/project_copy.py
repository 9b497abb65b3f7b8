"""A copy of this project in a temporary folder, to run `dvc repro` there on other params.

The copy holds the files git tracks or would track (the working tree, not the last commit), is
its own git repository (DVC wants one), and runs its own ``hsm_lib`` (``PYTHONPATH``), so nothing
it does reaches this checkout's data/ or reports/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dest: Path, params: dict[str, Any]) -> Path:
    """Copy the project's files to ``dest``, write ``params`` as its params.yaml, commit it."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=fixture", "-c", "user.email=fixture@localhost"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fixture"]):
        subprocess.run(git + cmd, cwd=dest, check=True, capture_output=True)
    return dest


def project_env(dest: Path) -> dict[str, str]:
    """The environment a command in the copy runs with: its own hsm_lib, this interpreter's tools."""
    env = {k: v for k, v in os.environ.items() if k not in ("HSM_DATA_ROOT", "HSM_REPORTS_DIR", "HSM_PIPELINE_STAGE")}
    env["PYTHONPATH"] = str(dest)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def run_in(dest: Path, *cmd: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run ``cmd`` in the copy; raises with the output's tail if it fails."""
    done = subprocess.run(list(cmd), cwd=dest, env=project_env(dest), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-6000:]}")
    return done
