"""The evaluation CLAP: the CLAP score's audio-text model (paper Sec. V-B stands in MS-CLAP).

No CLAP weights can be had offline, so the CLAP score uses a two-tower model trained for the
purpose, apart from every separation model: its audio tower reads the independent ``aisfx``
tagger's 512-d embedding (not our AudioMAE, so that it does not share our system's view of
audio), its text tower the frozen text backbone's sentence embedding; each is an MLP into a
shared space, trained with the symmetric contrastive loss on the training split's
(clip, caption) pairs. Its text-to-audio retrieval on the test clips is reported next to every
CLAP score, so a reader can judge the judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import TwoTowers


@dataclass
class EvalCLAPConfig(ModelConfig):
    audio_dim: int = 512     # aisfx embedding
    text_dim: int = 384      # text backbone sentence embedding
    hidden: int = 512
    embed_dim: int = 256
    temperature: float = 0.07


class EvalCLAP(TwoTowers):
    def __init__(self, cfg: EvalCLAPConfig):
        super().__init__(cfg.audio_dim, cfg.text_dim, cfg.hidden, cfg.embed_dim, cfg.temperature)
        self.cfg = cfg

    def audio_embedding(self, tagger_embedding: torch.Tensor) -> torch.Tensor:
        """[B, 512] aisfx embeddings -> [B, embed_dim], unit norm."""
        return self.embed_audio(tagger_embedding)

    def text_embedding(self, sentence: torch.Tensor) -> torch.Tensor:
        """[B, text_dim] sentence embeddings -> [B, embed_dim], unit norm."""
        return self.embed_text(sentence)

    def loss(self, audio: torch.Tensor, text: torch.Tensor, same_caption: torch.Tensor) -> torch.Tensor:
        from hsm_lib.models.qaudio import contrastive_loss

        sim = self.logits(self.audio_embedding(audio), self.text_embedding(text))
        return contrastive_loss(sim, same_caption | torch.eye(len(audio), dtype=torch.bool, device=audio.device))


def clap_score(model: EvalCLAP, tagger_embedding: np.ndarray, sentence: np.ndarray) -> np.ndarray:
    """Cosine between the audio embedding of each clip and the text embedding of its caption: [N]."""
    with torch.no_grad():
        a = model.audio_embedding(torch.as_tensor(tagger_embedding, dtype=torch.float32))
        t = model.text_embedding(torch.as_tensor(sentence, dtype=torch.float32))
    return (a * t).sum(-1).numpy()
