"""Bits every training loop shares: seeding, batches, the learning-rate schedule, devices."""

from __future__ import annotations

import math
import random
from dataclasses import fields
from typing import Any, Iterator

import numpy as np
import torch


class FromParams:
    """Mixin for a training-config dataclass: build it from a params.yaml section, ignoring
    the keys that belong to other parts of the stage."""

    @classmethod
    def from_params(cls, params: dict[str, Any]):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in params.items() if k in names})


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for the loop's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def batches(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """``steps`` index batches drawn epoch by epoch from fresh permutations of ``range(n)``."""
    if n <= 0:
        raise ValueError("no training examples")
    batch_size = min(batch_size, n)
    order, pos = torch.randperm(n, generator=generator), 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = torch.randperm(n, generator=generator), 0
        yield order[pos:pos + batch_size]
        pos += batch_size


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
    the usual setting for training, several times faster on Ampere and later."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but torch sees no GPU")
        torch.set_float32_matmul_precision("high")
    return torch.device(name)


def adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases, norms, embeddings' positions and 1-D parameters."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
