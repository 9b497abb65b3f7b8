"""Running a pipeline stage on several processes (GPUs) with torchrun, rank 0 publishing.

``HSM_TORCHRUN`` holds torchrun's own arguments; when it is set, ``python -m hsm_lib.stage
<stage>`` relaunches itself under ``python -m torch.distributed.run`` for the stages whose
trainers may be split (:data:`SPLIT_STAGES`), so ``dvc repro`` runs unchanged:

    HSM_TORCHRUN="--nproc_per_node=8" dvc repro                        # 8 GPUs, one node
    HSM_TORCHRUN="--nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \\
                  --rdzv_endpoint=node0:29500" dvc repro                 # on each node, its rank

Every process runs the stage's notebook, so every process takes part in each trainer's
gradient averaging (:mod:`hsm_lib.train.distributed`) and then evaluates the same models. Only
rank 0 publishes: every other rank runs with :func:`shadow_outputs`, which points the data and
reports folders at a private mirror (links to the real files, so it reads what earlier stages
wrote) and deletes the mirror when the stage ends, so what those ranks write goes nowhere.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from hsm_lib import paths

TORCHRUN_ENV = "HSM_TORCHRUN"
# The stages whose every trainer declares a splittable loss (hsm_lib.train.loop.Trainer(splittable=True));
# the others (contrastive losses, the codec's GAN, data and evaluation) run as one process.
SPLIT_STAGES = ("audiomae", "acoustic_lm", "global_sep", "local_sep", "joint_ft", "baselines")


def torchrun_command(stage: str, argv: list[str]) -> list[str] | None:
    """The command that relaunches ``hsm_lib.stage`` under torchrun, or None: when
    ``HSM_TORCHRUN`` is unset, when this process is already one of torchrun's, or when the
    stage runs as one process."""
    args = os.environ.get(TORCHRUN_ENV, "").strip()
    if not args or "RANK" in os.environ or stage not in SPLIT_STAGES:
        return None
    return [sys.executable, "-m", "torch.distributed.run", *shlex.split(args), "-m", "hsm_lib.stage", *argv]


def publishing_rank() -> bool:
    """True outside torchrun and on its rank 0."""
    return os.environ.get("RANK", "0") == "0"


def _mirror(real: Path, shadow: Path, depth: int) -> None:
    """Recreate ``real``'s folders ``depth`` levels deep under ``shadow``; link everything below.
    Writes that replace a file or a folder at those levels (the io module's atomic helpers
    replace whole files and folders) then land in the shadow, and reads see the real ones."""
    shadow.mkdir(parents=True, exist_ok=True)
    if not real.is_dir():
        return
    for child in real.iterdir():
        if child.is_dir() and not child.is_symlink() and depth > 1:
            _mirror(child, shadow / child.name, depth - 1)
        else:
            (shadow / child.name).symlink_to(child.resolve())


@contextmanager
def shadow_outputs(profile: str) -> Iterator[Path]:
    """Point ``HSM_DATA_ROOT`` and ``HSM_REPORTS_DIR`` at a private mirror of this profile's data
    and of the reports for the duration (restored after; the mirror is deleted)."""
    real_data, real_reports = paths.profile_dir(profile), paths.reports_dir(profile)
    saved = {k: os.environ.get(k) for k in ("HSM_DATA_ROOT", "HSM_REPORTS_DIR")}
    root = Path(tempfile.mkdtemp(prefix=f"hsm-rank{os.environ.get('RANK', '?')}-"))
    try:
        # data/<profile>/<folder>/<item>: a stage replaces items (a model folder, a feature set)
        _mirror(real_data, root / "data" / profile, depth=2)
        _mirror(real_reports, root / "reports", depth=2)
        os.environ["HSM_DATA_ROOT"], os.environ["HSM_REPORTS_DIR"] = str(root / "data"), str(root / "reports")
        yield root
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)
