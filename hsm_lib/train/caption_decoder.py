"""Training a caption decoder (:mod:`hsm_lib.models.caption_decoder`) on frozen clip features.

Every (clip, caption) pair of the training clips is one example, so a clip with three captions
is seen with each of them. The loss is the mean cross-entropy per caption token. The shared
loop (:class:`hsm_lib.train.loop.Trainer`) runs it; a validation loss on held-back clips is
logged every ``val_every`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from hsm_lib.models.caption_decoder import CaptionDecoder
from hsm_lib.train.loop import Trainer, TrainConfig


@dataclass
class CaptionTrainConfig(TrainConfig):
    val_every: int = 100        # steps between validation losses (0: never)


@dataclass
class CaptionPairs:
    """Features [N, C] of clips and their captions, flattened to (clip index, caption) pairs."""

    features: torch.Tensor
    clip: list[int]
    caption: list[str]

    @classmethod
    def of(cls, features: torch.Tensor, captions: Sequence[Sequence[str]]) -> "CaptionPairs":
        if len(features) != len(captions):
            raise ValueError(f"{len(features)} feature rows but {len(captions)} clips of captions")
        pairs = [(i, c) for i, caps in enumerate(captions) for c in caps]
        if not pairs:
            raise ValueError("no captions to train on")
        return cls(features.float(), [i for i, _ in pairs], [c for _, c in pairs])

    def __len__(self) -> int:
        return len(self.clip)

    def batch(self, idx: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, list[str]]:
        rows = [self.clip[i] for i in idx.tolist()]
        return self.features[rows].to(device), [self.caption[i] for i in idx.tolist()]


@torch.no_grad()
def pairs_loss(decoder: CaptionDecoder, pairs: CaptionPairs, batch_size: int = 128) -> float:
    """Mean per-pair loss over every pair (eval mode; the mode is restored)."""
    was_training = decoder.training
    decoder.eval()
    device = next(decoder.parameters()).device
    total = 0.0
    for i in range(0, len(pairs), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(pairs)))
        f, c = pairs.batch(idx, device)
        total += float(decoder.loss(f, c)) * len(idx)
    decoder.train(was_training)
    return total / len(pairs)


def fit_caption_decoder(decoder: CaptionDecoder, train: CaptionPairs, cfg: CaptionTrainConfig,
                        val: CaptionPairs | None = None, desc: str = "caption decoder", progress: bool = True,
                        state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Train ``decoder`` in place (the linear map and all of GPT-2). Returns the history: "step",
    "loss", and "val_step" / "val_loss" when ``val`` is given."""
    run = Trainer(cfg, [decoder], n_examples=len(train), state_dir=state_dir, desc=desc, progress=progress,
                  splittable=True)

    def step(i: int, idx: torch.Tensor):
        features, captions = train.batch(idx, run.device)
        loss = decoder.loss(features, captions)
        return loss, {"loss": loss.item()}

    def validate(i: int) -> dict[str, float] | None:
        if val is None or not cfg.val_every or (i % cfg.val_every and i != cfg.steps):
            return None
        return {"val_step": float(i), "val_loss": pairs_loss(decoder, val)}

    return run.fit(step, validate)
