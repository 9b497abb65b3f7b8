"""Run one pipeline stage: execute its notebook headless with papermill.

``python -m hsm_lib.stage data`` resolves the active profile from params.yaml and passes
the profile's section for that stage to the notebook's ``parameters`` cell. The executed
notebook is written beside the stage's data (data/<profile>/notebooks/).

The notebook runs on the project's kernel ``hsm-tss`` (scripts/setup.sh installs it into the
virtual environment) when it is installed, else on ``python3``. ``HSM_PIPELINE_STAGE`` is set for
the kernel, so the stage writes the committed reports/ (see :func:`hsm_lib.paths.reports_dir`).
Once the notebook has run, the trainers' resumable state (:func:`hsm_lib.paths.train_state_dir`)
is removed; a failed or killed run keeps it, so the rerun resumes.

With ``HSM_TORCHRUN`` set (torchrun's arguments), the stages whose trainers may be split run on
several processes, rank 0 alone publishing (:mod:`hsm_lib.launch`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from contextlib import nullcontext

from hsm_lib import paths
from hsm_lib.config import active_profile, load_params, profile_section
from hsm_lib.launch import publishing_rank, shadow_outputs, torchrun_command

KERNEL = "hsm-tss"          # the project's kernelspec (scripts/setup.sh installs it)
FALLBACK_KERNEL = "python3"


def kernel_name() -> str:
    """``hsm-tss`` when that kernelspec is installed, else ``python3`` (the running interpreter)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else FALLBACK_KERNEL


def stages() -> dict[str, str]:
    """Stage name -> notebook name, by convention: ``notebooks/NN_<stage>.ipynb`` is stage
    ``<stage>`` and reads the ``<stage>`` section of the profile. (Discovered rather than listed,
    so that adding a stage does not change this file, on which every stage depends.)"""
    found = {}
    for nb in sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        found[nb.stem.split("_", 1)[1]] = nb.stem
    return found


def run_stage(stage: str, profile: str | None = None) -> None:
    known = stages()
    if stage not in known:
        raise SystemExit(f"unknown stage '{stage}'; known: {', '.join(known)}")
    notebook, section = known[stage], stage
    params = load_params()
    profile = profile or active_profile(params)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ[paths.PIPELINE_STAGE_ENV] = stage  # the kernel inherits it: reports go to reports/
    # Under torchrun, ranks other than 0 write into a private mirror that is then deleted.
    with nullcontext() if publishing_rank() else shadow_outputs(profile):
        _execute(stage, notebook, section, profile, params)


def _execute(stage: str, notebook: str, section: str, profile: str, params: dict) -> None:
    import papermill as pm

    out = paths.executed_notebook(profile, notebook)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pm.execute_notebook(
        str(paths.NOTEBOOKS / f"{notebook}.ipynb"), str(out),
        parameters={"profile": profile, "params": profile_section(section, profile, params)},
        kernel_name=kernel_name(), progress_bar=False, cwd=str(paths.NOTEBOOKS),
    )
    seconds = time.time() - t0
    # Only a stage that finished may drop its trainers' resumable state.
    shutil.rmtree(paths.train_state_dir(profile, stage), ignore_errors=True)
    # The notebook runs in a kernel subprocess: its peak RSS is the children's maximum (KiB on Linux).
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    timing = {"stage": stage, "profile": profile, "seconds": round(seconds, 1), "peak_rss_mb": round(peak_mb, 1)}
    from hsm_lib.io import atomic_write_text

    atomic_write_text(paths.reports_dir(profile) / "timings" / f"{stage}.json", json.dumps(timing, indent=1) + "\n")
    if not publishing_rank():
        print(f"[stage {stage}] rank {os.environ['RANK']} done in {seconds:.1f} s (rank 0 publishes)", file=sys.stderr)
        return
    print(f"[stage {stage}] profile={profile} done in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB -> {out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("stage", choices=sorted(stages()))
    ap.add_argument("--profile", default=None, help="override params.yaml's profile")
    args = ap.parse_args(argv)
    relaunch = torchrun_command(args.stage, sys.argv[1:] if argv is None else list(argv))
    if relaunch:   # HSM_TORCHRUN: this stage's trainers run on several processes
        print(f"[stage {args.stage}] {' '.join(relaunch)}", file=sys.stderr)
        raise SystemExit(subprocess.call(relaunch))
    run_stage(args.stage, args.profile)


if __name__ == "__main__":
    main()
