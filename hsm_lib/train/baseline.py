"""Training the ResUNet-FiLM baseline on the extraction triplets.

The loss is AudioSep's waveform L1 (``loss: l1``, the paper profile), a waveform MSE (``loss:
mse``), or that MSE over the mixture's power, per example (``loss: nmse``, the cpu profile). Why
squared errors at small budgets: L1's minimiser is the conditional *median*, and a waveform
sample of a sparse sound (a drum hit, a beep) is 0 more often than not, so where the model is
unsure which source a bin belongs to, L1 pulls the mask towards 0 and deletes the target. Measured
on the cpu corpus: a drums-only model trained with L1 kept the interferer and cut the drums (SI-SDRi
down to -37 dB on clips where the drums dominate). MSE's minimiser is the conditional mean, a
Wiener-like mask that keeps a sound it is unsure of. Why normalise by the mixture: the plain MSE
is dominated by the loudest crops, while every test clip counts the same in SI-SDRi; divided by the
mixture's power, each crop's loss is an (inverse, log-free) signal-to-error ratio, as scale-free as
SI-SDR. The log itself (negative SI-SDR or SNR) drove the mask to 1 on this corpus.

``both_sources``: each training mixture also serves as an extraction of its *other* source, with
that source's caption (AudioSep mixes any two clips, so either can be the query). Each mixture
then teaches two complementary masks that differ only by the caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.models.resunet import ResUNetFiLM
from hsm_lib.config import ConfigError
from hsm_lib.train.loop import Trainer, TrainConfig


def power_normalised_mse(estimate: torch.Tensor, target: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """mean_b ||estimate_b - target_b||^2 / ||mixture_b||^2 for [B, T] waves: unchanged by a gain on all three."""
    return ((estimate - target).pow(2).mean(-1) / mixture.pow(2).mean(-1).clamp_min(1e-10)).mean()


WAVEFORM_LOSSES = {"l1": lambda e, t, m: F.l1_loss(e, t), "mse": lambda e, t, m: F.mse_loss(e, t),
                   "nmse": power_normalised_mse}
LOSS_LABELS = {"l1": "waveform L1", "mse": "waveform MSE", "nmse": "waveform MSE / mixture power"}  # for plots


@dataclass
class BaselineTrainConfig(TrainConfig):
    batch_size: int = 8
    segment_seconds: float = 2.0   # random crops of the triplets
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    loss: str = "l1"               # "l1" (AudioSep), "mse" or "nmse" (MSE over the mixture's power), on the waveform
    both_sources: bool = False     # also train each mixture as an extraction of its other source

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in WAVEFORM_LOSSES:
            raise ConfigError(f"baseline loss must be one of {', '.join(WAVEFORM_LOSSES)}, got {self.loss!r}")


def fit_resunet(model: ResUNetFiLM, audio: np.ndarray, text: Any, cfg: BaselineTrainConfig,
                progress: bool = True, state_dir: str | Path | None = None,
                other_text: Any = None) -> dict[str, list[float]]:
    """Train in place on extraction examples.

    Args:
        audio: [N, 2, L] int16 (target, other) pairs, as the triplet sets store them.
        text: [N, text_dim] the extraction caption's sentence embedding per triplet: a tensor, or anything
            that ``text[rows]`` (rows: an index tensor) turns into one and that has ``len`` and ``shape``
            (the paper profile's per-batch encoding, hsm_lib/stages/baselines.py).
        other_text: [N, text_dim] the other source's caption embedding; required by ``cfg.both_sources``.
        state_dir: where the resumable training state lives (None: no resuming).
    Returns: history with "step" and "loss" (``cfg.loss``, as ``LOSS_LABELS`` names it).
    """
    if len(audio) != len(text):
        raise ValueError(f"{len(audio)} triplets but {len(text)} caption embeddings")
    if cfg.both_sources and (other_text is None or other_text.shape != text.shape):
        raise ValueError("both_sources needs the other source's caption embedding for every triplet, shaped as text")
    run = Trainer(cfg, [model], n_examples=len(audio), state_dir=state_dir, desc="ResUNet-FiLM", progress=progress,
                  splittable=True)
    seg = min(int(cfg.segment_seconds * SAMPLE_RATE), audio.shape[-1])

    def step(_: int, idx: torch.Tensor):
        idx = np.sort(idx.numpy())
        starts = run.rng.integers(0, audio.shape[-1] - seg + 1, len(idx))
        pair = np.stack([np.asarray(audio[i, :, s:s + seg]) for i, s in zip(idx, starts)]).astype(np.float32) / 32768.0
        target = torch.from_numpy(pair[:, 0]).to(run.device)
        mixture = target + torch.from_numpy(pair[:, 1]).to(run.device)
        rows = torch.as_tensor(idx)
        query = text[rows]
        if cfg.both_sources:  # half the examples ask for the other source, with its caption
            flip = torch.from_numpy(run.rng.random(len(idx)) < 0.5)
            query = torch.where(flip[:, None], other_text[rows], query)
            target = torch.where(flip[:, None].to(run.device), mixture - target, target)
        estimate = model(mixture, query.to(run.device, torch.float32))
        loss = WAVEFORM_LOSSES[cfg.loss](estimate, target, mixture)
        return loss, {"loss": loss.item()}

    return run.fit(step)
