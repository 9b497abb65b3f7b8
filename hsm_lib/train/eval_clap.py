"""Training the evaluation CLAP on (aisfx embedding, caption embedding) pairs of training clips."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hsm_lib.models.eval_clap import EvalCLAP
from hsm_lib.train.loop import Trainer, TrainConfig


@dataclass
class EvalCLAPTrainConfig(TrainConfig):
    batch_size: int = 128
    lr: float = 1e-3
    grad_clip: float | None = None
    device: str = "cpu"   # two small MLPs on precomputed embeddings


def fit_eval_clap(model: EvalCLAP, audio: torch.Tensor, captions: Sequence[Sequence[str]], text: torch.Tensor,
                  cfg: EvalCLAPTrainConfig, progress: bool = True, state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Train in place.

    Args:
        audio: [N, 512] aisfx embeddings of the training clips.
        captions: per clip, its captions; each step draws one per clip.
        text: [sum of captions, text_dim] sentence embeddings of the flattened captions.
        state_dir: where the resumable training state lives (None: no resuming).
    """
    flat = [c for caps in captions for c in caps]
    if len(audio) != len(captions) or len(flat) != len(text):
        raise ValueError(f"{len(audio)} clips, {len(captions)} caption lists, {len(flat)} captions, {len(text)} embeddings")
    offsets = np.cumsum([0] + [len(c) for c in captions])
    run = Trainer(cfg, [model], n_examples=len(audio), state_dir=state_dir, desc="evaluation CLAP", progress=progress)

    def step(_: int, idx: torch.Tensor):
        idx = idx.numpy()
        pick = np.array([offsets[i] + run.rng.integers(len(captions[i])) for i in idx])
        chosen = [flat[j] for j in pick]
        same = torch.tensor([[a == b for b in chosen] for a in chosen])
        loss = model.loss(audio[idx].to(run.device), text[pick].to(run.device), same.to(run.device))
        return loss, {"loss": loss.item()}

    return run.fit(step)
