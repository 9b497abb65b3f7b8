"""Checkpoints: one folder per model, ``model.safetensors`` + ``config.json``; never pickle.

``save_checkpoint`` writes the folder atomically (a sibling temporary folder renamed into
place), so a reader sees the old checkpoint or the whole new one. ``config.json`` holds the
model's kind, its constructor config and any notes the trainer wants to keep (history,
data it was trained on).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from hsm_lib.io import atomic_folder

WEIGHTS, CONFIG = "model.safetensors", "config.json"


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete or of the wrong kind."""


def save_checkpoint(folder: str | os.PathLike[str], model: torch.nn.Module, kind: str,
                    config: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"kind": kind})
        meta = {"kind": kind, "config": config, **(extra or {})}
        (tmp / CONFIG).write_text(json.dumps(meta, indent=1) + "\n")
    return folder


def read_config(folder: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """The JSON beside the weights; checks the folder is complete and of ``kind``."""
    folder = Path(folder)
    for name in (WEIGHTS, CONFIG):
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint '{folder}' is incomplete: {name} is missing")
    meta = json.loads((folder / CONFIG).read_text())
    if meta.get("kind") != kind:
        raise CheckpointError(f"checkpoint '{folder}' holds a '{meta.get('kind')}', not a '{kind}'")
    return meta


def load_weights(folder: str | os.PathLike[str], model: torch.nn.Module) -> torch.nn.Module:
    """Load ``model.safetensors`` into ``model`` (every key must match)."""
    state = load_file(str(Path(folder) / WEIGHTS))
    model.load_state_dict(state, strict=True)
    return model
