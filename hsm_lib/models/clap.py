"""A CLAP-style two-tower baseline for Table V: the same frozen inputs as Q-Audio, ITC alone.

Reference: Elizalde et al., "CLAP: Learning Audio Concepts from Natural Language
Supervision" (2023); Wu et al., LAION-CLAP (2023). Each tower is a projection MLP over a
pooled frozen feature: the audio tower over mean-pooled AudioMAE features S, the text tower
over the backbone's pooled sentence embedding. Trained with the symmetric contrastive loss
only, with Q-Audio's data, batch and step budget, so that the comparison isolates what
Q-Audio's query, cross-attention and ITM/ITG objectives add.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.models.layers import init_weights
from hsm_lib.models.qaudio import QAudioLosses, contrastive_loss


@dataclass
class CLAPConfig:
    audio_dim: int = 768
    text_dim: int = 768
    dim: int = 768          # hidden width of each tower's MLP
    embed_dim: int = 256    # shared embedding width
    temperature: float = 0.07

    def to_dict(self) -> dict:
        return asdict(self)


def _tower(d_in: int, d: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d_in), nn.Linear(d_in, d), nn.GELU(), nn.Linear(d, d_out))


class CLAPBaseline(nn.Module):
    def __init__(self, cfg: CLAPConfig):
        super().__init__()
        self.cfg = cfg
        self.audio_tower = _tower(cfg.audio_dim, cfg.dim, cfg.embed_dim)
        self.text_tower = _tower(cfg.text_dim, cfg.dim, cfg.embed_dim)
        self.log_inv_temp = nn.Parameter(torch.tensor(1.0 / cfg.temperature).log())
        init_weights(self)

    def audio_embedding(self, audio: torch.Tensor) -> torch.Tensor:
        """S [B, P, C_s] -> [B, embed_dim] unit embedding."""
        return F.normalize(self.audio_tower(audio.mean(1)), dim=-1)

    def text_embedding(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Backbone features [B, N, C_t] + mask [B, N] -> [B, embed_dim] (mask-aware mean first)."""
        w = mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * w).sum(1) / w.sum(1).clamp_min(1.0)
        return F.normalize(self.text_tower(pooled), dim=-1)

    def losses(self, audio: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor | None = None,
               token_embeddings: torch.Tensor | None = None, same_caption: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> QAudioLosses:
        """Same signature as :meth:`QAudio.losses`; only ITC is non-zero."""
        pos = torch.eye(audio.shape[0], dtype=torch.bool, device=audio.device)
        pos = pos | same_caption if same_caption is not None else pos
        sim = self.audio_embedding(audio) @ self.text_embedding(tokens, mask).T * self.log_inv_temp.exp().clamp(max=100.0)
        itc = contrastive_loss(sim, pos)
        zero = itc.new_zeros(())
        return QAudioLosses(itc, itc, zero, zero)
