"""Training the non-autoregressive acoustic decoder on (S, codec frame values) of clean training
clips: MSE on standardised targets (see :mod:`hsm_lib.models.acoustic_nar`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hsm_lib.models.acoustic_nar import AcousticNAR
from hsm_lib.train.acoustic_lm import RolledConditions
from hsm_lib.train.common import mean_over_clips
from hsm_lib.train.loop import Trainer, TrainConfig


def frame_values(codec, waves: np.ndarray, batch_size: int = 16, progress: bool = False) -> torch.Tensor:
    """The codec's unquantized frame values [N, T_a, latent_dim + 1] (float16 storage) of stored clips [N, L]."""
    from hsm_lib.features import map_clips

    if not hasattr(codec, "frame_values"):
        raise ValueError(f"the non-autoregressive decoder needs the STFT gain-shape codec (kind stft_codec), "
                         f"not {type(codec).__name__}")
    return map_clips(lambda x: codec.frame_values(x).to(torch.float16), waves, next(codec.parameters()).device,
                     batch_size, "codec frame values", progress)


def fit_acoustic_nar(model: AcousticNAR, cond, targets: torch.Tensor, cfg: TrainConfig, progress: bool = True,
                     state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Train in place; sets the model's target statistics from ``targets`` first.

    Args:
        cond: S of the clips, [N, P, C_s] (a tensor or :class:`~hsm_lib.features.AudioMAEFeatures`).
        targets: [N, T_a, out_dim] the codec's frame values of the same clips (:func:`frame_values`).
    Returns: history with "step" and "loss" (MSE in standardised units).
    """
    if len(cond) != len(targets):
        raise ValueError(f"{len(cond)} conditions but {len(targets)} target sequences")
    if targets.shape[1] > model.cfg.frames or targets.shape[2] != model.cfg.out_dim:
        raise ValueError(f"targets are {list(targets.shape[1:])} per clip, the decoder makes "
                         f"[at most {model.cfg.frames}, {model.cfg.out_dim}]")
    model.set_target_stats(targets)
    run = Trainer(cfg, [model], n_examples=len(targets), state_dir=state_dir, desc="acoustic decoder (NAR)",
                  progress=progress, splittable=True)

    def step(_: int, idx: torch.Tensor):
        loss = standardised_mse(model, cond[idx].to(run.device, torch.float32), targets[idx].to(run.device))
        return loss, {"loss": loss.item()}

    return run.fit(step)


def standardised_mse(model: AcousticNAR, cond: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """MSE between the model's output for ``cond`` [B, P, C_s] and ``targets`` [B, T_a, out_dim], standardised.
    S may span a little more than the clip (its fbank is padded to whole patches): the frames past
    the clip's T_a are not scored."""
    wanted = (targets.float() - model.target_mean) / model.target_std
    return F.mse_loss(model(cond)[:, : targets.shape[1]], wanted)


@torch.no_grad()
def regression_error(model: AcousticNAR, cond, targets: torch.Tensor, batch_size: int = 16) -> float:
    """Mean standardised MSE over clips (a model that predicts the training mean scores about 1)."""
    if len(cond) != len(targets):
        raise ValueError(f"{len(cond)} conditions but {len(targets)} target sequences")
    return mean_over_clips(model, len(targets), lambda idx, dev: standardised_mse(
        model, cond[idx].to(dev, torch.float32), targets[idx].to(dev)), batch_size)


def mismatched_error(model: AcousticNAR, cond, targets: torch.Tensor, batch_size: int = 16) -> float:
    """:func:`regression_error` with each clip's targets under another clip's S: how much the decoder reads S."""
    return regression_error(model, RolledConditions(cond), targets, batch_size)
