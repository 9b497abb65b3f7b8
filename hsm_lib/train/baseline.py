"""Training the ResUNet-FiLM baseline on the extraction triplets (waveform L1, as AudioSep)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hsm_lib.models.resunet import ResUNetFiLM
from hsm_lib.train.common import FromParams, adamw, batches, resolve_device, seed_everything, warmup_cosine


@dataclass
class BaselineTrainConfig(FromParams):
    steps: int = 1000
    batch_size: int = 8
    segment_seconds: float = 2.0   # random crops of the 16 kHz triplets
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 50
    seed: int = 0
    device: str = "auto"


def fit_resunet(model: ResUNetFiLM, audio: np.ndarray, text: torch.Tensor, cfg: BaselineTrainConfig,
                progress: bool = True) -> dict[str, list[float]]:
    """Train in place on extraction examples.

    Args:
        audio: [N, 2, L] int16 (target, other) pairs, as the triplet sets store them.
        text: [N, text_dim] the extraction caption's sentence embedding per triplet.
    Returns: history with "step" and "loss" (waveform L1).
    """
    if len(audio) != len(text):
        raise ValueError(f"{len(audio)} triplets but {len(text)} caption embeddings")
    device = resolve_device(cfg.device)
    gen = seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.to(device).train()
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    sched = warmup_cosine(opt, cfg.warmup_steps, cfg.steps)
    seg = min(int(cfg.segment_seconds * 16000), audio.shape[-1])
    hist: dict[str, list[float]] = {"step": [], "loss": []}
    bar = tqdm(batches(len(audio), cfg.batch_size, cfg.steps, gen), total=cfg.steps, desc="ResUNet-FiLM", disable=not progress)
    for step, idx in enumerate(bar, start=1):
        idx = np.sort(idx.numpy())
        starts = rng.integers(0, audio.shape[-1] - seg + 1, len(idx))
        pair = np.stack([np.asarray(audio[i, :, s:s + seg]) for i, s in zip(idx, starts)]).astype(np.float32) / 32768.0
        target = torch.from_numpy(pair[:, 0]).to(device)
        mixture = target + torch.from_numpy(pair[:, 1]).to(device)
        loss = F.l1_loss(model(mixture, text[torch.as_tensor(idx)].to(device, torch.float32)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        hist["step"].append(step)
        hist["loss"].append(loss.item())
        if step % 10 == 0:
            bar.set_postfix(loss=f"{hist['loss'][-1]:.4f}")
    model.eval()
    return hist
