"""Pretraining Q-Audio (and the CLAP-style baseline) on (clip, caption) pairs, encoders frozen."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.text.backbone import TextBackbone
from hsm_lib.train.common import adamw, batches, resolve_device, seed_everything, warmup_cosine


@dataclass
class QAudioTrainConfig:
    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.05
    warmup_steps: int = 50
    seed: int = 0
    device: str = "auto"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "QAudioTrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})


def caption_vocabulary(backbone: TextBackbone, captions: Sequence[str]) -> torch.Tensor:
    """A look-up table [backbone vocab] -> ITG class: class 0 for every id never seen in
    ``captions`` (an "unknown" class), 1.. for the ids that occur, in id order.

    The paper's ITG predicts over T5's whole vocabulary; with a small corpus almost all of
    it never occurs, so the small profiles predict over the corpus's own tokens (the
    ``paper`` profile uses ``itg_vocab: full``).
    """
    ids = backbone.tokenizer(list(captions), padding=False, truncation=True, max_length=backbone.max_tokens)["input_ids"]
    seen = sorted({i for row in ids for i in row})
    lut = torch.zeros(backbone.vocab_size, dtype=torch.long)
    lut[torch.tensor(seen)] = torch.arange(1, len(seen) + 1)
    return lut


def same_caption_matrix(captions: Sequence[str]) -> torch.Tensor:
    """[B, B] bool: True where two pairs carry the identical caption string."""
    codes = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    ids = torch.tensor([codes[c] for c in captions])
    return ids[:, None] == ids[None, :]


def fit_pairs(model: torch.nn.Module, audio: torch.Tensor, captions: Sequence[Sequence[str]], backbone: TextBackbone,
              cfg: QAudioTrainConfig, desc: str = "Q-Audio", progress: bool = True) -> dict[str, list[float]]:
    """Train ``model`` (anything with Q-Audio's ``losses`` signature) in place.

    Args:
        audio: [N, P, C_s] frozen AudioMAE features of the training clips (any float dtype).
        captions: for each clip, its captions; each step draws one at random per clip.
    Returns:
        history: "step", "total", "itc", "itm", "itg" per step.
    """
    if len(audio) != len(captions) or any(not c for c in captions):
        raise ValueError("every clip needs at least one caption")
    device = resolve_device(cfg.device)
    gen = seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.to(device).train()
    backbone.to(device)
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    sched = warmup_cosine(opt, cfg.warmup_steps, cfg.steps)
    hist: dict[str, list[float]] = {k: [] for k in ("step", "total", "itc", "itm", "itg")}
    bar = tqdm(batches(len(audio), cfg.batch_size, cfg.steps, gen), total=cfg.steps, desc=desc, disable=not progress)
    for step, idx in enumerate(bar, start=1):
        texts = [captions[i][int(rng.integers(len(captions[i])))] for i in idx.tolist()]
        feats = backbone.encode(texts)
        emb = backbone.token_embeddings(feats.ids)
        losses = model.losses(audio[idx].to(device, torch.float32), feats.tokens, feats.mask, feats.ids, emb,
                              same_caption=same_caption_matrix(texts).to(device), generator=gen)
        opt.zero_grad(set_to_none=True)
        losses.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        hist["step"].append(step)
        for k in ("total", "itc", "itm", "itg"):
            hist[k].append(getattr(losses, k).item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{hist['total'][-1]:.3f}")
    model.eval()
    return hist
