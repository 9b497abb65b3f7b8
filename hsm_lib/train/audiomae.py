"""Pretraining AudioMAE on unlabelled training-split audio (paper Sec. III-B1, IV-A2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from hsm_lib.features import FbankRows
from hsm_lib.models.audiomae import AudioMAE
from hsm_lib.train.loop import Trainer, TrainConfig


@dataclass
class MAETrainConfig(TrainConfig):
    batch_size: int = 32
    lr: float = 1.5e-4 * 32 / 256 * 8   # MAE's base lr scaled by batch/256 (x8 for short runs)
    eval_every: int = 50                # steps between validation losses


@torch.no_grad()
def masked_loss(model: AudioMAE, fbanks: torch.Tensor, batch_size: int = 64, seed: int = 1234) -> float:
    """Mean pretraining loss on ``fbanks`` [N, T, F] with a fixed masking draw (comparable
    across steps)."""
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    total, count = 0.0, 0
    for i in range(0, len(fbanks), batch_size):
        x = fbanks[i:i + batch_size].to(device, torch.float32)
        loss, _, _ = model(x, generator=g)
        total, count = total + float(loss) * len(x), count + len(x)
    model.train()
    return total / max(1, count)


def fit_audiomae(model: AudioMAE, train: torch.Tensor | FbankRows, val: torch.Tensor | FbankRows, cfg: MAETrainConfig,
                 progress: bool = True, state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Pretrain ``model`` in place on normalised fbanks.

    Args:
        train: [N, T, F] normalised fbanks (any float dtype; upcast per batch), held, or a
            :class:`FbankRows` that computes each batch's on the training device.
        val: [M, T, F] held-out fbanks for the validation curve (either kind).
        state_dir: where the resumable training state lives (None: no resuming).
    Returns:
        history with "step", "loss" (training, per step) and "val_step", "val_loss".
    """
    run = Trainer(cfg, [model], n_examples=len(train), state_dir=state_dir, desc="AudioMAE", progress=progress,
                  splittable=True)
    for data in (train, val):
        if isinstance(data, FbankRows):
            data.device = run.device   # each batch's fbanks are computed where the model runs

    def step(_: int, idx: torch.Tensor):
        loss, _, _ = model(train[idx].to(run.device, torch.float32))
        return loss, {"loss": loss.item()}

    def validate(step: int):
        if step % cfg.eval_every == 0 or step == cfg.steps:
            return {"val_step": step, "val_loss": masked_loss(model, val)}
        return None

    return run.fit(step, on_step=validate)
