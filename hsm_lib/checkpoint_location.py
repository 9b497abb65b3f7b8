"""Where the separator's checkpoint folder is when the user names none.

In order, the first that is given or exists:

1. ``--checkpoint DIR`` (the caller's ``explicit``);
2. the environment variable ``HSM_TSS_CHECKPOINT`` (when set, it must name a checkpoint: a wrong
   setting is an error, not skipped over);
3. the user-level default, ``$XDG_DATA_HOME/hsm-tss/models`` (``~/.local/share/hsm-tss/models``);
4. inside a checkout of this project, the active profile's ``data/<profile>/models``.

So an installed package (``pip install .``, no checkout) works once a models folder is named by
the variable or copied to the user-level place, and a checkout works with no setting at all.
When none holds a checkpoint, the error lists every place it looked.
"""

from __future__ import annotations

import os
from pathlib import Path

from hsm_lib import paths
from hsm_lib.checkpoint import CheckpointError

ENV_VAR = "HSM_TSS_CHECKPOINT"
MANIFEST = "separator.json"   # the file that makes a folder a separator checkpoint (written by hsm_lib.pipeline)


def user_checkpoint_dir() -> Path:
    """The user-level default: ``$XDG_DATA_HOME/hsm-tss/models``, else ``~/.local/share/hsm-tss/models``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hsm-tss" / "models"


def checkout_checkpoint_dir() -> Path | None:
    """``data/<active profile>/models`` when this package runs from a checkout (params.yaml beside
    it), else None."""
    if not paths.PARAMS.is_file():
        return None
    from hsm_lib.config import ConfigError, active_profile

    try:
        return paths.profile_dir(active_profile()) / "models"
    except ConfigError:
        return None


def candidates(explicit: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """(where it came from, folder) in the order they are tried."""
    if explicit:
        return [("--checkpoint", Path(explicit))]
    found = []
    if os.environ.get(ENV_VAR):
        found.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR])))
    found.append(("user default", user_checkpoint_dir()))
    checkout = checkout_checkpoint_dir()
    if checkout is not None:
        found.append(("this checkout's active profile", checkout))
    return found


def resolve_checkpoint(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The checkpoint folder to load: ``explicit`` if given (checked later, by the loader, which
    names what is missing), else the first candidate holding ``separator.json``.

    Raises :class:`CheckpointError` listing every place looked at when none does."""
    tried = candidates(explicit)
    if explicit:
        return tried[0][1]
    if os.environ.get(ENV_VAR):       # a variable the user set is meant, never skipped over
        folder = tried[0][1]
        if not (folder / MANIFEST).is_file():
            raise CheckpointError(f"${ENV_VAR} names '{folder}', which holds no {MANIFEST} (not a separator "
                                  "checkpoint folder; the pipeline's joint_ft stage writes data/<profile>/models)")
        return folder
    for _, folder in tried:
        if (folder / MANIFEST).is_file():
            return folder
    looked = "; ".join(f"{where}: {folder}" for where, folder in tried)
    raise CheckpointError(f"no separator checkpoint found (looked for {MANIFEST} in {looked}). Name a models folder "
                          f"with --checkpoint or ${ENV_VAR}, or copy one to {user_checkpoint_dir()}; "
                          "the pipeline's joint_ft stage writes data/<profile>/models")
