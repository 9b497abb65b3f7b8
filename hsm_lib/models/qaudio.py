"""Q-Audio: the global semantic encoder (paper Sec. III-B2), after BLIP-2's Q-Former.

Reference: Li et al., "BLIP-2: Bootstrapping Language-Image Pre-training with Frozen Image
Encoders and Large Language Models" (2023), Sec. 3.1; the paper's changes: one learnable
query, two layers, a frozen *audio* encoder (AudioMAE) and a frozen text encoder (FLAN-T5;
MiniLM offline) whose features the text branch reads, so the module itself need not
understand language.

Layout of one layer (both branches in one sequence ``[query ; text]``)::

    shared self-attention over [query ; text] under an objective-specific mask
    cross-attention: the query reads the frozen AudioMAE features S      (query rows only)
    feed-forward: one MLP for the query rows, another for the text rows

Objectives (weights 1.0 each in the paper), each with its own self-attention mask
(:func:`attention_mask`; True = may attend):

=====  ====================  ======================  ================================
 obj    query -> query        query -> text           text -> query / text -> text
=====  ====================  ======================  ================================
 ITC    yes                   no                      no / yes (bidirectional)
 ITM    yes                   yes                     yes / yes
 ITG    yes                   no                      yes / causal (i may see j <= i)
=====  ====================  ======================  ================================

ITC and ITM read the backbone's *contextual* token features behind a learned [CLS]. ITG
must not: a contextual feature at position i has already seen tokens after i, so a
decoder reading it could copy the answer. ITG reads the backbone's *vocabulary* embeddings
of the caption shifted right behind a learned [DEC] token, so position i carries tokens
< i only (see ``tests/test_qaudio.py`` for the no-leak check).

The audio branch alone (the query with its cross-attention, no text) gives the global
feature G [B, 1, C_g] (:meth:`QAudio.audio_features`); the text branch alone gives the
Q-Audio text features (:meth:`QAudio.text_features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import MLP, Attention, init_weights

OBJECTIVES = ("itc", "itm", "itg")


@dataclass
class QAudioConfig(ModelConfig):
    audio_dim: int = 768        # C_s of the frozen AudioMAE features S
    text_dim: int = 768         # C_t of the frozen text backbone (FLAN-T5-base: 768)
    dim: int = 768              # hidden width = C_g, the width of G
    layers: int = 2             # paper: two self-attention + two cross-attention layers
    heads: int = 12
    n_queries: int = 1          # paper: one learnable query
    embed_dim: int = 256        # ITC projection width
    vocab_size: int = 32128     # ITG output classes (ids mapped through `vocab_lut`)
    backbone_vocab: int = 32128 # the text backbone's vocabulary size (length of `vocab_lut`)
    max_text_tokens: int = 64
    mlp_ratio: float = 4.0
    temperature: float = 0.07   # initial ITC temperature (learned)
    itc_weight: float = 1.0     # paper Sec. IV-C: the three losses weigh 1.0 each
    itm_weight: float = 1.0
    itg_weight: float = 1.0


def attention_mask(objective: str, n_query: int, n_text: int, device: torch.device | None = None) -> torch.Tensor:
    """[n_query + n_text, n_query + n_text] bool self-attention mask for ``objective``; True = may attend.

    Rows are the attending positions, columns the attended ones; queries come first.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    n = n_query + n_text
    m = torch.zeros(n, n, dtype=torch.bool, device=device)
    m[:n_query, :n_query] = True
    if objective == "itc":
        m[n_query:, n_query:] = True
    elif objective == "itm":
        m[:] = True
    else:  # itg: text sees the query and its own past; the query never sees the text
        m[n_query:, :n_query] = True
        m[n_query:, n_query:] = torch.ones(n_text, n_text, dtype=torch.bool, device=device).tril()
    return m


def contrastive_loss(sim: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP/CLAP) on scaled similarities ``sim`` [B audio, B text].

    ``pos`` [B, B] bool marks the positives (the diagonal, plus pairs whose captions are
    identical); each row's target spreads evenly over its positives.
    """
    pos = pos.float()
    a2t = -(pos / pos.sum(1, keepdim=True) * sim.log_softmax(1)).sum(1).mean()
    t2a = -(pos.T / pos.T.sum(1, keepdim=True) * sim.T.log_softmax(1)).sum(1).mean()
    return 0.5 * (a2t + t2a)


class QAudioLayer(nn.Module):
    """Shared self-attention, query-only cross-attention, separate query/text MLPs."""

    def __init__(self, dim: int, heads: int, audio_dim: int, mlp_ratio: float):
        super().__init__()
        self.norm_self, self.self_attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm_cross, self.cross_attn = nn.LayerNorm(dim), Attention(dim, heads, context_dim=audio_dim)
        self.norm_q, self.mlp_q = nn.LayerNorm(dim), MLP(dim, mlp_ratio)
        self.norm_t, self.mlp_t = nn.LayerNorm(dim), MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, n_query: int, mask: torch.Tensor | None,
                audio_kv: tuple[torch.Tensor, torch.Tensor] | None, keep_weights: bool = False) -> torch.Tensor:
        """x: [B, n_query + N, dim]; mask: [B, 1, L, L] bool; audio_kv: this layer's keys and
        values of the audio features (``cross_attn.project_kv(S)``), or None for text only."""
        x = x + self.self_attn(self.norm_self(x), mask=mask)
        q, t = x[:, :n_query], x[:, n_query:]
        if n_query and audio_kv is not None:
            q = q + self.cross_attn(self.norm_cross(q), kv=audio_kv, keep_weights=keep_weights)
        q = q + self.mlp_q(self.norm_q(q))
        t = t + self.mlp_t(self.norm_t(t)) if t.shape[1] else t
        return torch.cat([q, t], dim=1)


@dataclass
class QAudioLosses:
    total: torch.Tensor
    itc: torch.Tensor
    itm: torch.Tensor
    itg: torch.Tensor


class QAudio(nn.Module):
    def __init__(self, cfg: QAudioConfig, vocab_lut: torch.Tensor | None = None):
        """``vocab_lut`` [backbone_vocab] long maps backbone token ids to ITG classes (default:
        identity, the full vocabulary)."""
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.query = nn.Parameter(torch.randn(1, cfg.n_queries, d) * 0.02)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.dec_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.text_pos = nn.Parameter(torch.randn(1, cfg.max_text_tokens + 1, d) * 0.02)
        self.text_in = nn.Linear(cfg.text_dim, d)    # contextual backbone features (ITC, ITM)
        self.gen_in = nn.Linear(cfg.text_dim, d)     # vocabulary embeddings (ITG)
        self.layers = nn.ModuleList(QAudioLayer(d, cfg.heads, cfg.audio_dim, cfg.mlp_ratio) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.audio_proj, self.text_proj = nn.Linear(d, cfg.embed_dim), nn.Linear(d, cfg.embed_dim)
        self.log_inv_temp = nn.Parameter(torch.tensor(1.0 / cfg.temperature).log())
        self.itm_head = nn.Linear(d, 2)
        self.lm_head = nn.Linear(d, cfg.vocab_size)
        if vocab_lut is None:  # identity for the full vocabulary; otherwise filled by load_weights
            same = cfg.vocab_size == cfg.backbone_vocab
            vocab_lut = torch.arange(cfg.backbone_vocab) if same else torch.zeros(cfg.backbone_vocab, dtype=torch.long)
        lut = vocab_lut.long()
        if lut.shape != (cfg.backbone_vocab,) or int(lut.max()) >= cfg.vocab_size:
            raise ValueError("vocab_lut must map every backbone id to an ITG class < vocab_size")
        self.register_buffer("vocab_lut", lut)
        init_weights(self)

    # --- the two branches -----------------------------------------------------------------------

    def _text_input(self, tokens: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, proj: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
        n = tokens.shape[1] + 1
        if n > self.text_pos.shape[1]:
            raise ValueError(f"{n - 1} text tokens exceed max_text_tokens={self.cfg.max_text_tokens}")
        x = torch.cat([start.expand(tokens.shape[0], -1, -1), proj(tokens)], dim=1) + self.text_pos[:, :n]
        return x, torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)

    def audio_kv(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every layer's cross-attention keys and values of S [B, P, audio_dim].

        The projection of the P audio patches is most of a step's cost; the three objectives
        share one projection (ITM's pairs index into it) instead of recomputing it per pass.
        """
        return [layer.cross_attn.project_kv(audio) for layer in self.layers]

    def run(self, objective: str, audio: torch.Tensor | list | None, text: torch.Tensor | None, text_mask: torch.Tensor | None,
            with_query: bool = True, keep_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass of the layers over ``[query ; text]`` under ``objective``'s mask.

        Args:
            audio: [B, P, audio_dim] frozen AudioMAE features, or their :meth:`audio_kv`
                (None: no cross-attention).
            text: [B, N, dim] text-branch input (already projected, with its start token).
            text_mask: [B, N] bool, True at real tokens.
        Returns: (query outputs [B, n_q, dim], text outputs [B, N, dim]), final-normed.
        """
        kv = self.audio_kv(audio) if isinstance(audio, torch.Tensor) else audio
        b = kv[0][0].shape[0] if kv is not None else text.shape[0]
        nq = self.cfg.n_queries if with_query else 0
        parts = ([self.query.expand(b, -1, -1)] if nq else []) + ([text] if text is not None else [])
        x = torch.cat(parts, dim=1)
        nt = x.shape[1] - nq
        allowed = attention_mask(objective, nq, nt, x.device)[None, None]
        if text_mask is not None:  # padding is never attended to (as a key)
            keys = torch.cat([text_mask.new_ones(b, nq), text_mask], dim=1)
            allowed = allowed & keys[:, None, None, :]
        for layer, layer_kv in zip(self.layers, kv if kv is not None else [None] * len(self.layers)):
            x = layer(x, nq, allowed, layer_kv, keep_weights=keep_weights)
        x = self.norm(x)
        return x[:, :nq], x[:, nq:]

    def audio_features(self, audio: torch.Tensor) -> torch.Tensor:
        """The global feature G: the query, reading S through cross-attention, no text.

        Args:
            audio: S [B, P, C_s] frozen AudioMAE patch features.
        Returns:
            G [B, n_queries, C_g] (n_queries = 1 in the paper).
        """
        return self.run("itc", audio, None, None)[0]

    def text_features(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Q-Audio's text branch alone: backbone features [B, N, C_t] -> [B, 1 + N, C_g]
        ([CLS] first; rows at padding are meaningless)."""
        x, m = self._text_input(tokens, mask, self.cls_token, self.text_in)
        return self.run("itc", None, x, m, with_query=False)[1]

    # --- embeddings for retrieval ---------------------------------------------------------------

    def audio_embedding(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, P, C_s] -> [B, embed_dim] unit ITC embedding (mean over queries)."""
        return F.normalize(self.audio_proj(self.audio_features(audio)).mean(1), dim=-1)

    def text_embedding(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, N, C_t], [B, N] -> [B, embed_dim] unit ITC embedding of the [CLS] output."""
        return F.normalize(self.text_proj(self.text_features(tokens, mask)[:, 0]), dim=-1)

    def itm_logits(self, audio: torch.Tensor | list, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Matching logits [B, 2] (index 1 = "matches") for aligned pairs of audio (S or its
        :meth:`audio_kv`) and text."""
        x, m = self._text_input(tokens, mask, self.cls_token, self.text_in)
        q, _ = self.run("itm", audio, x, m)
        return self.itm_head(q).mean(1)

    def itg_logits(self, audio: torch.Tensor | list, ids: torch.Tensor, mask: torch.Tensor, token_embeddings: torch.Tensor) -> torch.Tensor:
        """Next-token logits [B, N, vocab_size]: position i predicts token i from the audio
        (through the query) and tokens < i (vocabulary embeddings shifted right behind [DEC])."""
        # Input position 0 is [DEC]; position i > 0 carries token i - 1. Nothing at or after i.
        x, m = self._text_input(token_embeddings[:, :-1], mask[:, :-1], self.dec_token, self.gen_in)
        _, t = self.run("itg", audio, x, m)
        return self.lm_head(t)

    # --- losses -------------------------------------------------------------------------------

    def losses(self, audio: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor,
               token_embeddings: torch.Tensor, same_caption: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> QAudioLosses:
        """The three pretraining losses on a batch of (audio, caption) pairs.

        Args:
            audio: [B, P, C_s] S of each clip.
            tokens, mask, ids: the backbone's contextual features [B, N, C_t], mask [B, N], ids [B, N].
            token_embeddings: [B, N, C_t] the backbone's vocabulary embeddings of ``ids``.
            same_caption: [B, B] bool, True where pair i's text also describes clip j (duplicated
                captions): counted as positives in ITC and never drawn as ITM negatives.
        """
        b, cfg = audio.shape[0], self.cfg
        pos = torch.eye(b, dtype=torch.bool, device=audio.device)
        pos = pos | same_caption if same_caption is not None else pos
        zero = audio.new_zeros(())

        kv = self.audio_kv(audio)  # shared by the three passes

        # ITC: one pass under the ITC mask (query and text each see only themselves).
        x, m = self._text_input(tokens, mask, self.cls_token, self.text_in)
        q, t = self.run("itc", kv, x, m)
        a_emb = F.normalize(self.audio_proj(q).mean(1), dim=-1)
        t_emb = F.normalize(self.text_proj(t[:, 0]), dim=-1)
        sim = a_emb @ t_emb.T * self.log_inv_temp.exp().clamp(max=100.0)  # [B audio, B text]
        itc = contrastive_loss(sim, pos)

        # ITM: positives plus one hard negative text per audio and one hard negative audio per
        # text, drawn from the ITC similarities with true positives excluded (BLIP-2).
        itm = zero
        if cfg.itm_weight and b > 1:
            with torch.no_grad():
                w_t = sim.softmax(1).masked_fill(pos, 0) + 1e-9 * (~pos)
                w_a = sim.T.softmax(1).masked_fill(pos.T, 0) + 1e-9 * (~pos.T)
                has_neg = (~pos).any(1)
                neg_text = torch.multinomial(w_t, 1, generator=generator).squeeze(1)
                neg_audio = torch.multinomial(w_a, 1, generator=generator).squeeze(1)
            # Three passes over the shared keys/values instead of one over a gathered copy: only
            # the negative-audio pass gathers (copying [B, heads, P, d] tensors dominated a step).
            neg_kv = [(k.index_select(0, neg_audio), v.index_select(0, neg_audio)) for k, v in kv]
            logits = torch.cat([self.itm_logits(kv, tokens, mask),                          # positives
                                self.itm_logits(kv, tokens[neg_text], mask[neg_text])[has_neg],  # hard negative text
                                self.itm_logits(neg_kv, tokens, mask)[has_neg]])            # hard negative audio
            labels = torch.zeros(len(logits), dtype=torch.long, device=audio.device)
            labels[:b] = 1
            itm = F.cross_entropy(logits, labels)

        # ITG: caption tokens from the audio, causally.
        itg = zero
        if cfg.itg_weight:
            logits = self.itg_logits(kv, ids, mask, token_embeddings)
            target = self.vocab_lut[ids].masked_fill(~mask, -100)
            itg = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)

        total = cfg.itc_weight * itc + cfg.itm_weight * itm + cfg.itg_weight * itg
        return QAudioLosses(total, itc, itm, itg)
