"""Resumable training state on disk: safetensors for the tensors, JSON for everything else.

A state is any nest of dicts, lists, tuples, tensors, NumPy arrays and JSON scalars (optimizer
and scheduler ``state_dict()``s, RNG states, the loss history). :func:`save_state` writes it to a
folder atomically (``tensors.safetensors`` + ``state.json``), so a kill during the write leaves
the previous state whole; :func:`load_state` rebuilds the same nest, key types included
(optimizers key their per-parameter state by int). No pickle anywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from hsm_lib.io import atomic_folder

TENSORS, TREE = "tensors.safetensors", "state.json"


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone().contiguous()  # clone: safetensors refuses shared storage
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a training state")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__dict__" in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__dict__"]}
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    raise ValueError(f"unreadable training-state entry with keys {sorted(obj)}")


def save_state(folder: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``folder`` atomically (replacing what was there)."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors)
    with atomic_folder(folder) as tmp:
        save_file(tensors, str(tmp / TENSORS))
        (tmp / TREE).write_text(json.dumps(tree))
    return Path(folder)


def load_state(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The state saved in ``folder``, or None if there is none (or only a partial one)."""
    folder = Path(folder)
    if not ((folder / TENSORS).is_file() and (folder / TREE).is_file()):
        return None
    return _decode(json.loads((folder / TREE).read_text()), load_file(str(folder / TENSORS)))
