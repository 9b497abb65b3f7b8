"""Training the acoustic LM on (S, codec tokens) of clean training clips (paper Sec. III-E1, Eq. 10)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hsm_lib.models.acoustic_lm import AcousticLM
from hsm_lib.train.common import mean_over_clips
from hsm_lib.train.loop import Trainer, TrainConfig


@dataclass
class LMTrainConfig(TrainConfig):
    """The shared fields, the fraction of positions each training step scores and the input
    dropout (:meth:`AcousticLM.loss`); evaluation always scores all positions, with nothing hidden."""

    scored_fraction: float = 1.0
    input_dropout: float = 0.0       # probability of hiding a previous frame from the input (AcousticLM.loss)


@torch.no_grad()
def encode_tokens(codec, waves: np.ndarray, batch_size: int = 16, progress: bool = False) -> torch.Tensor:
    """Codec tokens [N, T_a, G] (int16 storage) of stored clips [N, L] (int16 or float)."""
    from hsm_lib.features import map_clips

    return map_clips(lambda x: codec.encode(x).to(torch.int16), waves, next(codec.parameters()).device,
                     batch_size, "codec tokens", progress)


def fit_acoustic_lm(lm: AcousticLM, cond, tokens: torch.Tensor, cfg: LMTrainConfig, progress: bool = True,
                    state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Teacher-forced training in place.

    Args:
        cond: S of the clips, [N, P, C_s] (a tensor or :class:`~hsm_lib.features.AudioMAEFeatures`).
        tokens: [N, T_a, G] codec tokens of the same clips (every clip has the full length).
        state_dir: where the resumable training state lives (None: no resuming).
    Returns: history with "step" and "loss".
    """
    if len(cond) != len(tokens):
        raise ValueError(f"{len(cond)} conditions but {len(tokens)} token sequences")
    run = Trainer(cfg, [lm], n_examples=len(tokens), state_dir=state_dir, desc="acoustic LM", progress=progress,
                  splittable=True)

    gen = torch.Generator().manual_seed(cfg.seed)

    def step(i: int, idx: torch.Tensor):
        gen.manual_seed(cfg.seed * 1_000_003 + i)  # each step's positions depend on its number only: resumes match
        loss = lm.loss(cond[idx].to(run.device, torch.float32), tokens[idx].to(run.device, torch.long),
                       scored_fraction=cfg.scored_fraction, generator=gen, input_dropout=cfg.input_dropout)
        return loss, {"loss": loss.item()}

    return run.fit(step)


@torch.no_grad()
def teacher_forced_ce(lm: AcousticLM, cond, tokens: torch.Tensor, batch_size: int = 16) -> float:
    """Mean cross-entropy per token (nats, Eq. 10) of ``tokens`` [N, T_a, G] given ``cond`` [N, P, C_s]."""
    if len(cond) != len(tokens):
        raise ValueError(f"{len(cond)} conditions but {len(tokens)} token sequences")
    return mean_over_clips(lm, len(tokens), lambda idx, dev: lm.loss(cond[idx].to(dev, torch.float32),
                                                                     tokens[idx].to(dev, torch.long)), batch_size)


class RolledConditions:
    """``cond`` with every clip's condition replaced by the next clip's (clip i gets clip i + 1's,
    the last gets the first's): the matched-vs-mismatched test of whether an LM reads S at all."""

    def __init__(self, cond, shift: int = 1):
        if len(cond) < 2:
            raise ValueError("mismatching conditions needs at least 2 clips")
        self.cond, self.shift = cond, shift

    def __len__(self) -> int:
        return len(self.cond)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.cond[(torch.as_tensor(idx) + self.shift) % len(self.cond)]


def mismatched_ce(lm: AcousticLM, cond, tokens: torch.Tensor, batch_size: int = 16) -> float:
    """:func:`teacher_forced_ce` with each clip's tokens scored under another clip's condition. An
    LM that uses S scores clearly worse here than with the matched S; one that ignores S, the same."""
    return teacher_forced_ce(lm, RolledConditions(cond), tokens, batch_size)


def unigram_entropy(tokens: torch.Tensor, codebook_size: int) -> float:
    """Mean over groups of the entropy (nats) of each group's code frequencies in ``tokens`` [N, T_a, G].

    The cross-entropy a model reaches by knowing only how often each code is used: the reference an
    acoustic LM that reads S and the past frames must beat."""
    ent = []
    for g in range(tokens.shape[-1]):
        p = torch.bincount(tokens[..., g].reshape(-1).long(), minlength=codebook_size).double()
        p = p[p > 0] / p.sum()
        ent.append(float(-(p * p.log()).sum()))
    return float(np.mean(ent))
