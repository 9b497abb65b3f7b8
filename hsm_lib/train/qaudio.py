"""Pretraining Q-Audio (and the CLAP-style baseline) on (clip, caption) pairs, encoders frozen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hsm_lib.text.backbone import TextBackbone, TextFeatures
from hsm_lib.train.loop import Trainer, TrainConfig


@dataclass
class QAudioTrainConfig(TrainConfig):
    batch_size: int = 64


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


class CaptionFeatures:
    """The frozen backbone's features of a fixed list of captions, computed once (``cache=True``,
    for the small profiles: every step then skips the backbone) or per batch (``cache=False``,
    for the paper's millions of captions). ``bank[idx]`` -> :class:`TextFeatures` trimmed to the
    batch's longest caption, plus the vocabulary embeddings of its ids (for ITG)."""

    def __init__(self, backbone: TextBackbone, captions: Sequence[str], cache: bool = True, batch_size: int = 256):
        self.backbone = backbone
        self.captions = list(captions) if cache else captions   # per batch: any Sequence, read by index
        self.cached = None
        if cache and self.captions:
            parts = [backbone.encode(self.captions[i:i + batch_size]) for i in range(0, len(self.captions), batch_size)]
            n = max(p.tokens.shape[1] for p in parts)
            pad = lambda t, v: torch.nn.functional.pad(t, (0, 0, 0, n - t.shape[1]) if t.dim() == 3 else (0, n - t.shape[1]), value=v)
            self.cached = (torch.cat([pad(p.tokens, 0.0) for p in parts]).to(torch.float16),
                           torch.cat([pad(p.mask, False) for p in parts]),
                           torch.cat([pad(p.ids, 0) for p in parts]))

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, idx: Sequence[int]) -> tuple[TextFeatures, torch.Tensor]:
        idx = list(idx)
        if self.cached is None:
            f = self.backbone.encode([self.captions[i] for i in idx])
        else:
            tokens, mask, ids = (t[torch.as_tensor(idx)] for t in self.cached)
            n = int(mask.sum(1).max())
            device = self.backbone.device
            tokens, mask, ids = tokens[:, :n].to(device, torch.float32), mask[:, :n].to(device), ids[:, :n].to(device)
            w = mask.unsqueeze(-1).float()
            f = TextFeatures(tokens, mask, (tokens * w).sum(1) / w.sum(1).clamp_min(1.0), ids)
        return f, self.backbone.token_embeddings(f.ids)


def fit_pairs(model: torch.nn.Module, audio, captions: Sequence[Sequence[str]], backbone: TextBackbone,
              cfg: QAudioTrainConfig, desc: str = "Q-Audio", progress: bool = True, cache_text: bool = True,
              text_bank: CaptionFeatures | None = None, state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Train ``model`` (anything with Q-Audio's ``losses`` signature) in place.

    Args:
        audio: [N, P, C_s] frozen AudioMAE features of the training clips (a tensor of any float
            dtype, or :class:`~hsm_lib.features.AudioMAEFeatures`).
        captions: for each clip, its captions; each step draws one at random per clip.
        cache_text / text_bank: encode all captions once up front (or reuse ``text_bank``, a
            :class:`CaptionFeatures` of the flattened captions, across models).
        state_dir: where the resumable training state lives (None: no resuming).
    Returns:
        history: "step", "total", "itc", "itm", "itg" per step.
    """
    if len(audio) != len(captions) or any(not c for c in captions):
        raise ValueError("every clip needs at least one caption")
    run = Trainer(cfg, [model], n_examples=len(audio), state_dir=state_dir, desc=desc, progress=progress)
    backbone.to(run.device)
    flat = [c for caps in captions for c in caps]
    first = np.cumsum([0] + [len(c) for c in captions])  # clip i's captions are flat[first[i]:first[i + 1]]
    text = text_bank if text_bank is not None else CaptionFeatures(backbone, flat, cache=cache_text)

    def step(_: int, idx: torch.Tensor):
        pick = [int(first[i] + run.rng.integers(first[i + 1] - first[i])) for i in idx.tolist()]
        feats, emb = text[pick]
        losses = model.losses(audio[idx].to(run.device, torch.float32), feats.tokens, feats.mask, feats.ids, emb,
                              same_caption=same_caption_matrix([flat[j] for j in pick]).to(run.device),
                              generator=run.generator)
        return losses.total, {k: getattr(losses, k).item() for k in ("total", "itc", "itm", "itg")}

    return run.fit(step)
