"""A caption decoder on a frozen audio feature: a linear map to a prefix, then GPT-2 (paper Table VI).

The paper judges Q-Audio's global feature G by audio captioning: "a linear mapping layer and a
pretrained GPT2 are used as the downstream model to generate audio captions ... we only train
the downstream model and keep audio feature extraction frozen" (Sec. V-D, Table VI). This is the
ClipCap recipe (Mokady et al., "ClipCap: CLIP Prefix for Image Captioning", 2021): the clip's
feature [C] is mapped by one linear layer to ``prefix_len`` vectors of GPT-2's width, which
stand before the caption's token embeddings; GPT-2 is trained to continue the prefix with the
caption and an end token.

Two ways to get the GPT-2:

- ``pretrained``: a local folder holding GPT-2's weights and tokenizer (``save_pretrained``
  layout, e.g. the Hugging Face ``gpt2`` repository downloaded beforehand): the paper's choice.
  Nothing is ever downloaded at run time.
- otherwise, GPT-2's architecture (``transformers.GPT2LMHeadModel``) at the config's sizes,
  trained from scratch with a word-level vocabulary of the training captions
  (:class:`WordTokenizer`): the offline default, since no GPT-2 weights can be had here.

Features are standardised with their training mean and standard deviation first (kept as
buffers): an affine map in front of a linear one changes nothing the model can express, but it
puts every feature (a unit-norm CLAP embedding, a layer-normed G) on the same footing for the
optimiser.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.models.config import ModelConfig

IGNORE = -100   # label of the positions the loss skips (the prefix, the padding)


class CaptionTokenizer(Protocol):
    """What the decoder needs from a tokenizer."""

    eos_id: int
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")


class WordTokenizer:
    """Lower-cased words and punctuation marks of the training captions; id 0 is the end token,
    id 1 stands for any word the training captions never used."""

    SPECIAL = ("<eos>", "<unk>")

    def __init__(self, words: Sequence[str]):
        self.words = list(self.SPECIAL) + [w for w in words if w not in self.SPECIAL]
        self.index = {w: i for i, w in enumerate(self.words)}
        self.eos_id, self.unk_id = 0, 1
        self.vocab_size = len(self.words)

    @classmethod
    def from_captions(cls, captions: Sequence[str], min_count: int = 1) -> "WordTokenizer":
        """The words used at least ``min_count`` times, most frequent first (ties by spelling)."""
        counts = Counter(w for c in captions for w in _WORD.findall(c.lower()))
        return cls([w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count])

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, self.unk_id) for w in _WORD.findall(text.lower())]

    def decode(self, ids: Sequence[int]) -> str:
        out = " ".join(self.words[i] for i in ids if i != self.eos_id)
        out = re.sub(r'" ([^"]*?) "', r'"\1"', out)        # quoted words: 'says " hi "' -> 'says "hi"'
        return re.sub(r" ([,.;:!?])", r"\1", out)

    def to_json(self) -> str:
        return json.dumps({"words": self.words[len(self.SPECIAL):]})

    @classmethod
    def from_json(cls, text: str) -> "WordTokenizer":
        return cls(json.loads(text)["words"])


class PretrainedTokenizer:
    """A Hugging Face tokenizer (GPT-2's byte-level BPE) seen as a :class:`CaptionTokenizer`.
    Captions are encoded with a leading space, as GPT-2 saw words inside its training text."""

    def __init__(self, folder: str | Path):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        if self.tokenizer.eos_token_id is None:
            raise ValueError(f"the tokenizer in {folder} has no end-of-text token")
        self.eos_id, self.vocab_size = int(self.tokenizer.eos_token_id), len(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(" " + text.strip(), add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i != self.eos_id]).strip()


def check_pretrained_folder(folder: str | Path) -> Path:
    """The folder of a pretrained GPT-2, or a clear error saying what is missing and how to get it."""
    path = Path(folder)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"no pretrained GPT-2 at {path} (config.json missing). The paper profile's caption decoder starts from "
            "GPT-2's weights, read from a local folder and never downloaded here; put them there first, e.g. "
            f"`huggingface-cli download gpt2 --local-dir {path}`, or set caption.decoder.pretrained to null "
            "to train GPT-2's shape from scratch")
    return path


@dataclass
class CaptionDecoderConfig(ModelConfig):
    feature_dim: int = 768      # C of the frozen audio feature
    prefix_len: int = 10        # feature -> this many GPT-2 input vectors (ClipCap's length for CLIP)
    dim: int = 768              # GPT-2's width (n_embd); read from the folder when pretrained
    layers: int = 12            # GPT-2's depth (n_layer); read from the folder when pretrained
    heads: int = 12             # GPT-2's heads (n_head); read from the folder when pretrained
    max_tokens: int = 40        # longest caption, in tokens, end token included
    pretrained: str | None = None   # local folder of a pretrained GPT-2; None: from scratch
    dropout: float = 0.1


class CaptionDecoder(nn.Module):
    """Linear map [C] -> [prefix_len, dim], then GPT-2 over [prefix ; caption tokens]."""

    def __init__(self, cfg: CaptionDecoderConfig, tokenizer: CaptionTokenizer,
                 feature_mean: torch.Tensor | None = None, feature_std: torch.Tensor | None = None):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        self.cfg, self.tokenizer = cfg, tokenizer
        if cfg.pretrained is not None:
            self.gpt = GPT2LMHeadModel.from_pretrained(str(check_pretrained_folder(cfg.pretrained)), local_files_only=True)
        else:
            self.gpt = GPT2LMHeadModel(GPT2Config(
                vocab_size=tokenizer.vocab_size, n_positions=cfg.prefix_len + cfg.max_tokens + 1, n_embd=cfg.dim,
                n_layer=cfg.layers, n_head=cfg.heads, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout,
                attn_pdrop=cfg.dropout, bos_token_id=tokenizer.eos_id, eos_token_id=tokenizer.eos_id))
        width = self.gpt.config.n_embd
        self.to_prefix = nn.Linear(cfg.feature_dim, cfg.prefix_len * width)
        self.register_buffer("feature_mean", torch.zeros(cfg.feature_dim) if feature_mean is None else feature_mean.float())
        self.register_buffer("feature_std", torch.ones(cfg.feature_dim) if feature_std is None else feature_std.float())

    def prefix(self, features: torch.Tensor) -> torch.Tensor:
        """features [B, C] -> prefix [B, prefix_len, dim]."""
        x = (features - self.feature_mean) / self.feature_std.clamp_min(1e-6)
        return self.to_prefix(x).view(len(features), self.cfg.prefix_len, -1)

    def batch_tokens(self, captions: Sequence[str], device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [B, L] (each caption cut to max_tokens - 1, then the end token; padded with
        the end token) and their mask [B, L]."""
        seqs = [self.tokenizer.encode(c)[: self.cfg.max_tokens - 1] + [self.tokenizer.eos_id] for c in captions]
        length = max(map(len, seqs))
        ids = torch.full((len(seqs), length), self.tokenizer.eos_id, dtype=torch.long)
        mask = torch.zeros(len(seqs), length, dtype=torch.bool)
        for i, s in enumerate(seqs):
            ids[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), True
        return ids.to(device), mask.to(device)

    def loss(self, features: torch.Tensor, captions: Sequence[str]) -> torch.Tensor:
        """Mean cross-entropy per caption token (end token included) given the features [B, C]."""
        ids, mask = self.batch_tokens(captions, features.device)
        prefix = self.prefix(features)
        embeds = torch.cat([prefix, self.gpt.transformer.wte(ids)], 1)
        attention = torch.cat([torch.ones(prefix.shape[:2], dtype=torch.long, device=ids.device), mask.long()], 1)
        logits = self.gpt(inputs_embeds=embeds, attention_mask=attention).logits
        # position t predicts input t + 1: the prefix's last vector predicts the first word
        scored = logits[:, prefix.shape[1] - 1: -1]
        labels = ids.masked_fill(~mask, IGNORE)
        return F.cross_entropy(scored.reshape(-1, scored.shape[-1]), labels.reshape(-1), ignore_index=IGNORE)

    @torch.no_grad()
    def generate(self, features: torch.Tensor, max_tokens: int | None = None, use_cache: bool = True) -> list[str]:
        """Greedy captions of features [B, C], each ending at the end token or at ``max_tokens``.

        With ``use_cache`` GPT-2 keeps its keys and values, so each step reads one new token
        (linear in the caption's length, which matters for the paper profile's 124M-parameter
        GPT-2); without it the whole sequence is run again at each step (the reference the tests
        compare against)."""
        was_training = self.training
        self.eval()
        max_tokens = max_tokens or self.cfg.max_tokens
        embeds = self.prefix(features)                       # [B, P, D]: the first step reads the prefix
        step_in, past = embeds, None
        out = torch.empty(len(features), 0, dtype=torch.long, device=features.device)
        done = torch.zeros(len(features), dtype=torch.bool, device=features.device)
        for _ in range(max_tokens):
            result = self.gpt(inputs_embeds=step_in, past_key_values=past, use_cache=use_cache)
            nxt = result.logits[:, -1].argmax(-1)
            nxt = nxt.masked_fill(done, self.tokenizer.eos_id)
            out = torch.cat([out, nxt[:, None]], 1)
            done |= nxt == self.tokenizer.eos_id
            if bool(done.all()):
                break
            new = self.gpt.transformer.wte(nxt)[:, None]      # [B, 1, D]
            if use_cache:
                step_in, past = new, result.past_key_values
            else:
                embeds = torch.cat([embeds, new], 1)
                step_in = embeds
        self.train(was_training)
        return [self.tokenizer.decode(_until_end(row.tolist(), self.tokenizer.eos_id)) for row in out]


def _until_end(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


def build_decoder(cfg: CaptionDecoderConfig, training_captions: Sequence[str], features: torch.Tensor) -> CaptionDecoder:
    """A fresh decoder for ``features`` [N, C] (their mean and std fixed in it): GPT-2's own
    tokenizer when pretrained, else the training captions' words."""
    tokenizer: CaptionTokenizer = (PretrainedTokenizer(check_pretrained_folder(cfg.pretrained)) if cfg.pretrained is not None
                                   else WordTokenizer.from_captions(training_captions))
    features = features.float()
    return CaptionDecoder(cfg, tokenizer, features.mean(0), features.std(0))
