"""Pretraining AudioMAE on unlabelled training-split audio (paper Sec. III-B1, IV-A2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from hsm_lib.models.audiomae import AudioMAE
from hsm_lib.train.common import FromParams, adamw, batches, resolve_device, seed_everything, warmup_cosine


@dataclass
class MAETrainConfig(FromParams):
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1.5e-4 * 32 / 256 * 8   # MAE's base lr scaled by batch/256 (x8 for short runs)
    weight_decay: float = 0.05
    warmup_steps: int = 50
    eval_every: int = 50
    seed: int = 0
    device: str = "auto"


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


def fit_audiomae(model: AudioMAE, train: torch.Tensor, val: torch.Tensor, cfg: MAETrainConfig,
                 progress: bool = True) -> dict[str, list[float]]:
    """Pretrain ``model`` in place on normalised fbanks.

    Args:
        train: [N, T, F] normalised fbanks (any float dtype; upcast per batch).
        val: [M, T, F] held-out fbanks for the validation curve.
    Returns:
        history with "step", "loss" (training, per step) and "val_step", "val_loss".
    """
    device = resolve_device(cfg.device)
    gen = seed_everything(cfg.seed)
    model.to(device).train()
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    sched = warmup_cosine(opt, cfg.warmup_steps, cfg.steps)
    hist: dict[str, list[float]] = {"step": [], "loss": [], "val_step": [], "val_loss": []}
    bar = tqdm(batches(len(train), cfg.batch_size, cfg.steps, gen), total=cfg.steps, desc="AudioMAE",
               disable=not progress)
    for step, idx in enumerate(bar, start=1):
        loss, _, _ = model(train[idx].to(device, torch.float32))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        hist["step"].append(step)
        hist["loss"].append(loss.item())
        if step % cfg.eval_every == 0 or step == cfg.steps:
            hist["val_step"].append(step)
            hist["val_loss"].append(masked_loss(model, val))
            bar.set_postfix(loss=f"{hist['loss'][-1]:.3f}", val=f"{hist['val_loss'][-1]:.3f}")
    model.eval()
    return hist


def train_config_dict(cfg: MAETrainConfig) -> dict[str, Any]:
    return asdict(cfg)
