"""A CLAP-style two-tower baseline for Table V: the same frozen inputs as Q-Audio, ITC alone.

Reference: Elizalde et al., "CLAP: Learning Audio Concepts from Natural Language
Supervision" (2023); Wu et al., LAION-CLAP (2023). Each tower is a projection MLP over a
pooled frozen feature: the audio tower over mean-pooled AudioMAE features S, the text tower
over the backbone's pooled sentence embedding. Trained with the symmetric contrastive loss
only, with Q-Audio's data, batch and step budget, so that the comparison isolates what
Q-Audio's query, cross-attention and ITM/ITG objectives add.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import TwoTowers, init_weights
from hsm_lib.models.qaudio import QAudioLosses, contrastive_loss


@dataclass
class CLAPConfig(ModelConfig):
    audio_dim: int = 768
    text_dim: int = 768
    dim: int = 768          # hidden width of each tower's MLP
    embed_dim: int = 256    # shared embedding width
    temperature: float = 0.07


class CLAPBaseline(TwoTowers):
    def __init__(self, cfg: CLAPConfig):
        super().__init__(cfg.audio_dim, cfg.text_dim, cfg.dim, cfg.embed_dim, cfg.temperature)
        self.cfg = cfg
        init_weights(self)

    def audio_embedding(self, audio: torch.Tensor) -> torch.Tensor:
        """S [B, P, C_s] -> [B, embed_dim] unit embedding."""
        return self.embed_audio(audio.mean(1))

    def text_embedding(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Backbone features [B, N, C_t] + mask [B, N] -> [B, embed_dim] (mask-aware mean first)."""
        w = mask.unsqueeze(-1).to(tokens.dtype)
        return self.embed_text((tokens * w).sum(1) / w.sum(1).clamp_min(1.0))

    def losses(self, audio: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor | None = None,
               token_embeddings: torch.Tensor | None = None, same_caption: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> QAudioLosses:
        """Same signature as :meth:`QAudio.losses`; only ITC is non-zero."""
        pos = torch.eye(audio.shape[0], dtype=torch.bool, device=audio.device)
        pos = pos | same_caption if same_caption is not None else pos
        sim = self.logits(self.audio_embedding(audio), self.text_embedding(tokens, mask))
        itc = contrastive_loss(sim, pos)
        zero = itc.new_zeros(())
        return QAudioLosses(itc, itc, zero, zero)
