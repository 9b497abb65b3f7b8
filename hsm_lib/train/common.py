"""Bits the training loop builds on: seeding, the learning-rate schedule, devices."""

from __future__ import annotations

import math
import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for the loop's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up for ``warmup`` steps, then cosine decay to 0 at ``total`` (MAE's schedule)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda if there is one, else cpu; "cuda" without a GPU is a clear error.

    On a GPU, float32 matrix products may use TF32 tensor cores (PyTorch's "high" precision):
    the usual setting for training, several times faster on Ampere and later. Under torchrun,
    plain "cuda" is this process's GPU, ``cuda:<LOCAL_RANK>`` (frozen models and evaluation then
    share each rank's GPU, not GPU 0)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but torch sees no GPU")
        torch.set_float32_matmul_precision("high")
        if name == "cuda" and "LOCAL_RANK" in os.environ:
            name = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(torch.device(name))
    return torch.device(name)


@torch.no_grad()
def mean_over_clips(model: torch.nn.Module, n: int, loss_of, batch_size: int = 16) -> float:
    """The clip-weighted mean of ``loss_of(idx, device)`` (a scalar tensor: the mean over the clips
    ``idx``, a [B] index tensor) over ``n`` clips taken ``batch_size`` at a time, with ``model`` in
    eval mode (its mode is restored after): an evaluation loss of a whole set."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, n, batch_size):
        idx = torch.arange(i, min(i + batch_size, n))
        total += loss_of(idx, device).item() * len(idx)
    model.train(was_training)
    return total / n
