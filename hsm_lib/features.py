"""From stored int16 corpus audio to model inputs: normalised fbanks, AudioMAE features S.

Everything here works in batches over arrays the corpus stores ([N, L] int16 clips, or
[N, 2, L] int16 triplets whose mixture is the sum of the two rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.audio import fbank, normalise_fbank


def fbank_stats(corpus: str | Path) -> tuple[float, float]:
    """(mean, std) of the corpus's training fbanks (written by the data stage)."""
    stats = json.loads((Path(corpus) / "fbank_stats.json").read_text())
    return float(stats["mean"]), float(stats["std"])


def to_float(audio: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1); float input is passed through."""
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return np.asarray(audio, dtype=np.float32)


def triplet_mixtures(triplets: np.ndarray) -> np.ndarray:
    """[N, 2, L] int16 (target, other) -> [N, L] float32 mixtures (their sum)."""
    return triplets.astype(np.float32).sum(axis=1) / 32768.0


def fbanks(waves: np.ndarray, n_frames: int, mean: float, std: float, dtype: torch.dtype = torch.float16,
           progress: bool = False, desc: str = "fbank") -> torch.Tensor:
    """[N, L] waves (int16 or float) -> [N, n_frames, 128] normalised log-mel, stored as ``dtype``
    (float16 halves the memory of a cached training set; models upcast per batch)."""
    out = torch.empty(len(waves), n_frames, 128, dtype=dtype)
    for i in tqdm(range(len(waves)), desc=desc, disable=not progress, leave=False):
        out[i] = normalise_fbank(fbank(to_float(waves[i]), n_frames), mean, std).to(dtype)
    return out


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 32,
            device: str | torch.device = "cpu", progress: bool = False, desc: str = "encode") -> torch.Tensor:
    """Apply ``fn`` to ``x`` [N, ...] in batches (float32 on ``device``); results on the CPU."""
    outs = []
    for i in tqdm(range(0, len(x), batch_size), desc=desc, disable=not progress, leave=False):
        outs.append(fn(x[i:i + batch_size].to(device, torch.float32)).cpu())
    return torch.cat(outs) if outs else torch.empty(0)
