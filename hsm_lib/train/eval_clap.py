"""Training the evaluation CLAP on (aisfx embedding, caption embedding) pairs of training clips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.models.eval_clap import EvalCLAP
from hsm_lib.train.common import FromParams, adamw, batches, seed_everything, warmup_cosine


@dataclass
class EvalCLAPTrainConfig(FromParams):
    steps: int = 1000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    seed: int = 0


def fit_eval_clap(model: EvalCLAP, audio: torch.Tensor, captions: Sequence[Sequence[str]], text: torch.Tensor,
                  cfg: EvalCLAPTrainConfig, progress: bool = True) -> dict[str, list[float]]:
    """Train in place (on the CPU: the towers are small MLPs on precomputed embeddings).

    Args:
        audio: [N, 512] aisfx embeddings of the training clips.
        captions: per clip, its captions; each step draws one per clip.
        text: [sum of captions, text_dim] sentence embeddings of the flattened captions.
    """
    flat = [c for caps in captions for c in caps]
    if len(audio) != len(captions) or len(flat) != len(text):
        raise ValueError(f"{len(audio)} clips, {len(captions)} caption lists, {len(flat)} captions, {len(text)} embeddings")
    offsets = np.cumsum([0] + [len(c) for c in captions])
    gen = seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.train()
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    sched = warmup_cosine(opt, cfg.warmup_steps, cfg.steps)
    hist: dict[str, list[float]] = {"step": [], "loss": []}
    for step, idx in enumerate(tqdm(batches(len(audio), cfg.batch_size, cfg.steps, gen), total=cfg.steps,
                                    desc="evaluation CLAP", disable=not progress), start=1):
        idx = idx.numpy()
        pick = np.array([offsets[i] + rng.integers(len(captions[i])) for i in idx])
        chosen = [flat[j] for j in pick]
        same = torch.tensor([[a == b for b in chosen] for a in chosen])
        loss = model.loss(audio[idx], text[pick], same)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hist["step"].append(step)
        hist["loss"].append(loss.item())
    model.eval()
    return hist
