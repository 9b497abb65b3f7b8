"""The two non-autoregressive separation transformers (paper Sec. III-C, III-D).

Both read one sequence, conditioning tokens first and the mixture's audio tokens after, through
a pre-norm transformer encoder, and regress the target's features at the audio positions:

* H1, global-semantic separation (Eq. 2, 5-7): [G_mix ; T_task ; T_cap] -> Ĝ, with G_mix the
  mixture's single Q-Audio vector [1, C_g], T_task the task word's token embeddings, T_cap the
  caption's Q-Audio text features. Loss λ1 (1 - cos) + λ2 L1.
* H2, local-semantic separation (Eq. 8): S_mix [P, C_s] conditioned on [G ; T_task ; T_cap]
  -> Ŝ [P, C_s]; trained with the ground-truth G_tgt, L1 loss. **Ours_single** is H2 without
  the global token, its caption tokens taken from the text backbone instead of Q-Audio.

One class serves all three: :class:`SeparationTransformer` with ``global_dim`` set (H2) or
``None`` (H1, Ours_single).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import Block, init_weights


@dataclass
class NARConfig(ModelConfig):
    audio_dim: int                 # width of the audio tokens in and out: C_g (H1) or C_s (H2)
    text_dim: int                  # width of the caption tokens T_cap
    task_dim: int                  # width of the task tokens T_task
    global_dim: int | None = None  # width of the global token G (H2); None: no global token
    audio_len: int = 1             # audio positions: 1 (H1) or the P patches of S (H2)
    max_text: int = 65             # caption positions (Q-Audio's [CLS] + 64 tokens)
    max_task: int = 4              # task-word pieces
    dim: int = 768
    layers: int = 6
    heads: int = 8
    mlp_ratio: float = 4.0
    # Predict the target as the mixture's tokens plus a learned correction, the correction's head
    # starting at zero: training starts from the mixture (already close to the target: cos(G_mix,
    # G_tgt) and L1(S_mix, S_tgt) are the floors) instead of from noise. Not in the paper; ours.
    residual: bool = True


# segment ids of the token kinds (a learned embedding each)
GLOBAL, TASK, TEXT, AUDIO = range(4)


@dataclass
class Conditioning:
    """The conditioning tokens of a batch.

    task: [B, L_task, task_dim] and task_mask [B, L_task] (True = real token);
    text: [B, N, text_dim] and text_mask [B, N];
    global_: [B, global_dim] or None.
    """

    task: torch.Tensor
    task_mask: torch.Tensor
    text: torch.Tensor
    text_mask: torch.Tensor
    global_: torch.Tensor | None = None

    def to(self, device) -> "Conditioning":
        mv = lambda t: None if t is None else t.to(device)
        return Conditioning(mv(self.task).float(), mv(self.task_mask), mv(self.text).float(), mv(self.text_mask),
                            None if self.global_ is None else mv(self.global_).float())


class SeparationTransformer(nn.Module):
    def __init__(self, cfg: NARConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.audio_in = nn.Linear(cfg.audio_dim, d)
        self.text_in = nn.Linear(cfg.text_dim, d)
        self.task_in = nn.Linear(cfg.task_dim, d)
        self.global_in = nn.Linear(cfg.global_dim, d) if cfg.global_dim else None
        self.segment = nn.Embedding(4, d)
        self.audio_pos = nn.Parameter(torch.randn(1, cfg.audio_len, d) * 0.02)
        self.text_pos = nn.Parameter(torch.randn(1, cfg.max_text, d) * 0.02)
        self.task_pos = nn.Parameter(torch.randn(1, cfg.max_task, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, mlp_ratio=cfg.mlp_ratio) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.audio_dim)
        init_weights(self)
        if cfg.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def n_prefix_fixed(self) -> int:
        return 1 if self.global_in is not None else 0

    def _sequence(self, audio: torch.Tensor, cond: Conditioning) -> tuple[torch.Tensor, torch.Tensor]:
        """-> tokens [B, L, dim] ordered [G ; T_task ; T_cap ; audio] and key mask [B, L]."""
        b = audio.shape[0]
        if audio.shape[1] != self.cfg.audio_len or audio.shape[2] != self.cfg.audio_dim:
            raise ValueError(f"audio tokens must be [B, {self.cfg.audio_len}, {self.cfg.audio_dim}], got {list(audio.shape)}")
        if cond.text.shape[1] > self.cfg.max_text or cond.task.shape[1] > self.cfg.max_task:
            raise ValueError(f"{cond.text.shape[1]} caption / {cond.task.shape[1]} task tokens exceed "
                             f"max_text={self.cfg.max_text} / max_task={self.cfg.max_task}")
        if (cond.global_ is None) != (self.global_in is None):
            raise ValueError("this model " + ("needs" if self.global_in is not None else "takes no") + " a global token")
        parts, masks = [], []
        seg = self.segment.weight
        if self.global_in is not None:
            parts.append(self.global_in(cond.global_)[:, None] + seg[GLOBAL])
            masks.append(torch.ones(b, 1, dtype=torch.bool, device=audio.device))
        n_task, n_text = cond.task.shape[1], cond.text.shape[1]
        parts.append(self.task_in(cond.task) + self.task_pos[:, :n_task] + seg[TASK])
        masks.append(cond.task_mask)
        parts.append(self.text_in(cond.text) + self.text_pos[:, :n_text] + seg[TEXT])
        masks.append(cond.text_mask)
        parts.append(self.audio_in(audio) + self.audio_pos + seg[AUDIO])
        masks.append(torch.ones(b, audio.shape[1], dtype=torch.bool, device=audio.device))
        return torch.cat(parts, 1), torch.cat(masks, 1)

    def forward(self, audio: torch.Tensor, cond: Conditioning, keep_last_attention: bool = False) -> torch.Tensor:
        """audio: the mixture's tokens [B, audio_len, audio_dim] -> the target's [B, audio_len, audio_dim].

        ``keep_last_attention`` stores the last layer's self-attention weights
        [B, heads, L, L] in ``self.blocks[-1].attn.last_weights`` (Fig. 6)."""
        x, key_mask = self._sequence(audio, cond)
        mask = key_mask[:, None, None, :]  # every position attends to every real token
        for i, blk in enumerate(self.blocks):
            if keep_last_attention and i == len(self.blocks) - 1:
                x = x + blk.attn(blk.norm1(x), mask=mask, keep_weights=True)
                x = x + blk.mlp(blk.norm2(x))
            else:
                x = blk(x, mask=mask)
        out = self.head(self.norm(x[:, -audio.shape[1]:]))
        return audio + out if self.cfg.residual else out

    def audio_attention_of_global(self) -> torch.Tensor:
        """After a forward with ``keep_last_attention``: the global token's attention over the audio
        positions in the last layer, mean over heads, [B, audio_len] (Fig. 6)."""
        w = self.blocks[-1].attn.last_weights
        if w is None or self.global_in is None:
            raise RuntimeError("run forward(..., keep_last_attention=True) on a model with a global token first")
        return w[:, :, 0, -self.cfg.audio_len:].mean(1)


def global_loss(pred: torch.Tensor, target: torch.Tensor, w_sim: float = 1.0, w_l1: float = 1.0) -> torch.Tensor:
    """Eq. 5-7: λ1 (1 - cos(Ĝ, G)) + λ2 |Ĝ - G|_1, both averaged over the batch; the L1 term is
    the mean over the C_g elements (a sum would outweigh the cosine by C_g)."""
    pred, target = pred.reshape(pred.shape[0], -1), target.reshape(target.shape[0], -1)
    sim = 1 - F.cosine_similarity(pred, target, dim=-1).mean()
    return w_sim * sim + w_l1 * F.l1_loss(pred, target)


def local_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 8: mean absolute error between Ŝ and S_tgt."""
    return F.l1_loss(pred, target)


def switch_global(g_true: torch.Tensor, g_pred: torch.Tensor, p_gt: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The joint fine-tuning switcher: per sample, the ground truth G_tgt with probability
    ``p_gt`` and the prediction Ĝ otherwise. [B, C_g] each -> [B, C_g]."""
    draw = torch.rand(g_true.shape[0], generator=generator, device="cpu" if generator is None else generator.device)
    use_true = (draw < p_gt).to(g_true.device)[:, None]
    return torch.where(use_true, g_true, g_pred)


# --- prediction: what training and evaluation share -----------------------------------------------

def predict_global(h1: SeparationTransformer, b) -> torch.Tensor:
    """Ĝ [B, C_g] from [G_mix ; T_task ; T_cap].

    ``b`` is a batch with ``g_mix`` [B, C_g] and ``cond`` (a :class:`Conditioning`), such as
    :class:`hsm_lib.train.separation.Batch`."""
    return h1(b.g_mix[:, None], b.cond)[:, 0]


def predict_local(h2: SeparationTransformer, b, g: torch.Tensor | None) -> torch.Tensor:
    """Ŝ [B, P, C_s] from S_mix conditioned on [g ; T_task ; T_cap]; ``g=None``: Ours_single.

    ``b`` has ``s_mix`` [B, P, C_s], ``cond`` (Q-Audio caption features) and ``cond_text``
    (the backbone's caption features, for Ours_single)."""
    if g is None:
        return h2(b.s_mix, b.cond_text)
    c = b.cond
    return h2(b.s_mix, Conditioning(c.task, c.task_mask, c.text, c.text_mask, g))
