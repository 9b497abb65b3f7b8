"""Transformer building blocks shared by every model in the project (pre-norm, as in ViT/GPT-2).

Attention goes through ``F.scaled_dot_product_attention`` so the same code uses the fused
kernels on a GPU and the plain math path on a laptop. Masks are boolean with True meaning
"may attend", broadcast to [B, heads, L_q, L_k].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention; self-attention when ``context`` is None, cross-attention otherwise.

    Args:
        dim: width of the queries (and of the output).
        heads: number of heads; ``dim`` must divide by it.
        context_dim: width of the keys/values' source for cross-attention (default ``dim``).
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.last_weights: torch.Tensor | None = None  # filled when ``keep_weights`` is asked for

    def project_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, L_k, context_dim] -> keys and values, each [B, heads, L_k, dim / heads].

        Cross-attention to a fixed context (Q-Audio's audio features) can project it once and
        pass the result as ``kv`` to several forward calls.
        """
        b, n = context.shape[:2]
        k, v = self.kv(context).view(b, n, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, keep_weights: bool = False,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x: [B, L_q, dim]; context: [B, L_k, context_dim] (or its ``kv`` from :meth:`project_kv`);
        mask: bool, broadcastable to [B, heads, L_q, L_k], True = may attend. Returns [B, L_q, dim]."""
        b, lq, d = x.shape
        q = self.q(x).view(b, lq, self.heads, -1).transpose(1, 2)
        k, v = kv if kv is not None else self.project_kv(x if context is None else context)
        if keep_weights:  # explicit path, only for inspection (e.g. Fig. 6's attention maps)
            logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if mask is not None:
                logits = logits.masked_fill(~mask, float("-inf"))
            w = logits.softmax(-1)
            self.last_weights = w.detach()
            y = w @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, lq, d))


class MLP(nn.Sequential):
    def __init__(self, dim: int, ratio: float = 4.0):
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention, MLP."""

    def __init__(self, dim: int, heads: int, cross_dim: int | None = None, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.cross = None
        if cross_dim is not None:
            self.norm_c, self.cross = nn.LayerNorm(dim), Attention(dim, heads, context_dim=cross_dim)
        self.norm2, self.mlp = nn.LayerNorm(dim), MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: [B, L, dim]; mask: self-attention mask; context: [B, L_c, cross_dim]."""
        x = x + self.attn(self.norm1(x), mask=mask)
        if self.cross is not None and context is not None:
            x = x + self.cross(self.norm_c(x), context=context, mask=context_mask)
        return x + self.mlp(self.norm2(x))


def sincos_1d(n: int, dim: int) -> np.ndarray:
    """[n, dim] fixed sinusoidal positions (the Transformer's), float32."""
    if dim % 2:
        raise ValueError("sinusoidal positions need an even width")
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2))
    angles = np.arange(n, dtype=np.float64)[:, None] * omega[None]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def sincos_2d(rows: int, cols: int, dim: int) -> np.ndarray:
    """[rows * cols, dim] fixed 2-D sinusoidal positions (MAE's): half the width encodes the
    row (time patch), half the column (frequency patch); row-major order."""
    if dim % 4:
        raise ValueError("2-D sinusoidal positions need a width divisible by 4")
    r = np.repeat(sincos_1d(rows, dim // 2), cols, axis=0)
    c = np.tile(sincos_1d(cols, dim // 2), (rows, 1))
    return np.concatenate([r, c], axis=1)


def mlp_tower(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """A contrastive model's projection tower: LayerNorm, Linear, GELU, Linear ([.., d_in] -> [.., d_out])."""
    return nn.Sequential(nn.LayerNorm(d_in), nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))


class TwoTowers(nn.Module):
    """CLAP's shape: an MLP tower per modality into a shared space, and a learned temperature.

    Subclasses decide what each tower reads (pooling, which features) in their
    ``audio_embedding`` and ``text_embedding``."""

    def __init__(self, audio_dim: int, text_dim: int, hidden: int, embed_dim: int, temperature: float):
        super().__init__()
        self.audio_tower = mlp_tower(audio_dim, hidden, embed_dim)
        self.text_tower = mlp_tower(text_dim, hidden, embed_dim)
        self.log_inv_temp = nn.Parameter(torch.tensor(1.0 / temperature).log())

    def embed_audio(self, x: torch.Tensor) -> torch.Tensor:
        """[B, audio_dim] -> [B, embed_dim], unit norm."""
        return F.normalize(self.audio_tower(x), dim=-1)

    def embed_text(self, x: torch.Tensor) -> torch.Tensor:
        """[B, text_dim] -> [B, embed_dim], unit norm."""
        return F.normalize(self.text_tower(x), dim=-1)

    def logits(self, audio_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Unit embeddings [B_a, D], [B_t, D] -> temperature-scaled cosines [B_a, B_t] (CLIP's cap of 100)."""
        return audio_emb @ text_emb.T * self.log_inv_temp.exp().clamp(max=100.0)


def init_weights(module: nn.Module) -> None:
    """MAE/ViT initialisation: xavier-uniform linears with zero bias, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
