"""Training and scoring the two separation transformers (paper Sec. III-C, III-D, joint fine-tuning).

Examples are (triplet, instruction) pairs: every triplet gives two, the extraction of its
target's caption and the removal of the other clip's caption, with the same target audio.
Instructions go through :func:`~hsm_lib.text.instructions.parse_instruction`, the path a user's
instruction takes, so training sees what inference sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from hsm_lib.models.nar import (Conditioning, SeparationTransformer, global_loss, local_loss, predict_global,
                                predict_local, switch_global)
from hsm_lib.train.loop import GeneratorState, Trainer, TrainConfig

TASK_IDS = {"extraction": 0, "removal": 1}


@dataclass
class SepTrainConfig(TrainConfig):
    betas: tuple[float, float] = (0.9, 0.98)
    decay_all_params: bool = True
    lambda_sim: float = 1.0   # Eq. 7: λ1, the cosine term of L_global
    lambda_l1: float = 1.0    # Eq. 7: λ2, the L1 term
    p_gt: float = 0.1         # joint fine-tuning: probability of feeding H2 the ground-truth G
    global_weight: float = 0.1  # joint fine-tuning: 0.1 L_global + 1.0 L_local
    local_weight: float = 1.0


@dataclass
class Batch:
    """One batch of examples, on the model device.

    s_mix, s_tgt: [B, P, C_s]; g_mix, g_tgt: [B, C_g]; task: [B] (0 extraction, 1 removal);
    cond: Conditioning with Q-Audio caption features (H1, H2); cond_text: Conditioning with the
    backbone's caption features (Ours_single)."""

    s_mix: torch.Tensor
    s_tgt: torch.Tensor
    g_mix: torch.Tensor
    g_tgt: torch.Tensor
    task: torch.Tensor
    cond: Conditioning
    cond_text: Conditioning


class ExampleColumn(Sequence):
    """One field of every example, worked out when indexed (``column[e] = fn(e)``): the streaming
    profiles' examples hold no per-example Python objects."""

    def __init__(self, fn: Callable[[int], object], n: int):
        self.fn, self.n = fn, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, e):
        if isinstance(e, slice):
            return [self.fn(i) for i in range(*e.indices(self.n))]
        if not -self.n <= e < self.n:
            raise IndexError(f"example {e} of {self.n}")
        return self.fn(int(e) % self.n)


class SeparationExamples:
    """The (triplet, instruction) examples of a triplet set and their frozen features.

    Example ``e`` is triplet ``e // len(kinds)`` with the instruction ``kinds[e % len(kinds)]``.
    ``cache=True`` computes S and G of every mixture and target once (float16; the small
    profiles), or takes S from ``precomputed`` (S_mix, S_tgt of at least the first ``limit``
    triplets, from the audiomae stage's FeatureStore), and parses every instruction up front;
    ``cache=False`` computes features and parses instructions per batch (the paper's 1.7M
    triplets: nothing here grows with the set but the example index).
    """

    def __init__(self, triplets, mae, mean: float, std: float, qaudio, backbone,
                 parse: Callable | None = None, kinds: Sequence[str] = ("extraction", "removal"),
                 cache: bool = True, limit: int | None = None, progress: bool = False,
                 precomputed: tuple[torch.Tensor | None, torch.Tensor | None] | None = None):
        from hsm_lib.features import AudioMAEFeatures, TripletMixtures, TripletTargets
        from hsm_lib.text.instructions import parse_instruction
        from hsm_lib.train.qaudio import CaptionFeatures

        self._parse = parse or parse_instruction
        self.kinds = tuple(kinds)
        n = len(triplets) if limit is None else min(limit, len(triplets))
        self.records = triplets.records[:n]
        audio = triplets.audio[:n]
        self.mae, self.qaudio, self.backbone = mae, qaudio, backbone
        self.device = next(qaudio.parameters()).device
        pre_mix, pre_tgt = precomputed if precomputed is not None and cache else (None, None)
        self.S_mix = AudioMAEFeatures(mae, TripletMixtures(audio), mae.cfg.n_frames, mean, std, cache=cache, progress=progress,
                                      precomputed=None if pre_mix is None else pre_mix[:n])
        self.S_tgt = AudioMAEFeatures(mae, TripletTargets(audio), mae.cfg.n_frames, mean, std, cache=cache, progress=progress,
                                      precomputed=None if pre_tgt is None else pre_tgt[:n])
        self.G_mix = self._globals(self.S_mix) if cache else None
        self.G_tgt = self._globals(self.S_tgt) if cache else None
        n_examples = n * len(self.kinds)
        self.triplet = ExampleColumn(lambda e: e // len(self.kinds), n_examples)
        if cache:
            parsed = [self.example(e) for e in range(n_examples)]
            self.task = [p[1] for p in parsed]
            self.captions: Sequence[str] = [p[2] for p in parsed]
            self.instructions: Sequence[str] = [p[3] for p in parsed]
            unique = sorted(set(self.captions))
            where = {c: j for j, c in enumerate(unique)}
            self._caption_index: Sequence[int] = [where[c] for c in self.captions]
            self.caption_bank = CaptionFeatures(backbone, unique, cache=True)
        else:
            self.task = ExampleColumn(lambda e: self.example(e)[1], n_examples)
            self.captions = ExampleColumn(lambda e: self.example(e)[2], n_examples)
            self.instructions = ExampleColumn(lambda e: self.example(e)[3], n_examples)
            self._caption_index = ExampleColumn(lambda e: e, n_examples)
            self.caption_bank = CaptionFeatures(backbone, self.captions, cache=False)
        tasks = [backbone.task_tokens(t) for t in TASK_IDS]  # T_task: [L_t, C_t] per task
        width = max(len(t) for t in tasks)
        self.task_tokens = torch.stack([torch.nn.functional.pad(t, (0, 0, 0, width - len(t))) for t in tasks]).float()
        self.task_mask = torch.stack([torch.arange(width) < len(t) for t in tasks])

    def example(self, e: int) -> tuple[int, int, str, str]:
        """(triplet row, task id, caption, instruction text) of example ``e``, parsed now."""
        i, kind = divmod(e, len(self.kinds))
        text = self.records[i]["instructions"][self.kinds[kind]]["text"]
        parsed = self._parse(text)
        return i, TASK_IDS[parsed.task], parsed.caption, text

    @torch.no_grad()
    def _globals(self, S, batch_size: int = 64) -> torch.Tensor:
        out = [self.qaudio.audio_features(S[np.arange(i, min(i + batch_size, len(S)))])[:, 0].cpu()
               for i in range(0, len(S), batch_size)]
        return torch.cat(out)

    def __len__(self) -> int:
        return len(self.triplet)

    @torch.no_grad()
    def batch(self, idx) -> Batch:
        idx = np.asarray(idx.cpu() if isinstance(idx, torch.Tensor) else idx).reshape(-1)
        rows = np.asarray([self.triplet[i] for i in idx], dtype=np.int64)
        dev = self.device
        s_mix, s_tgt = self.S_mix[rows].to(dev), self.S_tgt[rows].to(dev)
        if self.G_mix is not None:
            g_mix, g_tgt = self.G_mix[torch.as_tensor(rows)].to(dev), self.G_tgt[torch.as_tensor(rows)].to(dev)
        else:
            g_mix, g_tgt = self.qaudio.audio_features(s_mix)[:, 0], self.qaudio.audio_features(s_tgt)[:, 0]
        task = torch.as_tensor([self.task[i] for i in idx], device=dev)
        text, _ = self.caption_bank[[self._caption_index[i] for i in idx]]
        tokens, mask = text.tokens.to(dev), text.mask.to(dev)
        cap_q = self.qaudio.text_features(tokens, mask)                          # [B, 1 + N, C_g]
        mask_q = torch.cat([torch.ones_like(mask[:, :1]), mask], 1)
        task_tok, task_mask = self.task_tokens.to(dev)[task], self.task_mask.to(dev)[task]
        return Batch(s_mix, s_tgt, g_mix, g_tgt, task,
                     Conditioning(task_tok, task_mask, cap_q, mask_q),
                     Conditioning(task_tok, task_mask, tokens, mask))


# --- training -------------------------------------------------------------------------------------

def _fit(models: list[SeparationTransformer], loss_fn: Callable[[Batch], tuple[torch.Tensor, dict[str, float]]],
         data: SeparationExamples, cfg: SepTrainConfig, desc: str, progress: bool, state_dir: str | Path | None,
         extra_state: dict | None = None) -> dict[str, list[float]]:
    run = Trainer(cfg, models, n_examples=len(data), state_dir=state_dir, extra_state=extra_state, desc=desc,
                  progress=progress, splittable=True)

    def step(_: int, idx: torch.Tensor):
        loss, parts = loss_fn(data.batch(idx))
        return loss, {"loss": loss.item(), **parts}

    return run.fit(step)


def fit_global(h1: SeparationTransformer, data: SeparationExamples, cfg: SepTrainConfig, progress: bool = True,
               state_dir: str | Path | None = None) -> dict:
    """H1 alone (Eq. 7), frozen encoders."""

    def loss(b: Batch):
        return global_loss(predict_global(h1, b), b.g_tgt, cfg.lambda_sim, cfg.lambda_l1), {}

    return _fit([h1], loss, data, cfg, "H1 global", progress, state_dir)


def fit_local(h2: SeparationTransformer, data: SeparationExamples, cfg: SepTrainConfig, single: bool = False,
              progress: bool = True, state_dir: str | Path | None = None) -> dict:
    """H2 with the ground-truth G_tgt (Eq. 8), or Ours_single (``single``: text backbone only)."""

    def loss(b: Batch):
        return local_loss(predict_local(h2, b, None if single else b.g_tgt), b.s_tgt), {}

    return _fit([h2], loss, data, cfg, "Ours_single" if single else "H2 local", progress, state_dir)


def fit_joint(h1: SeparationTransformer, h2: SeparationTransformer, data: SeparationExamples, cfg: SepTrainConfig,
              progress: bool = True, state_dir: str | Path | None = None) -> dict:
    """Joint fine-tuning: H2 reads G_tgt with probability p_gt and Ĝ otherwise (gradients flow
    into H1 through Ĝ); loss global_weight L_global + local_weight L_local."""
    switch_gen = torch.Generator().manual_seed(cfg.seed + 1)

    def loss(b: Batch):
        g_hat = predict_global(h1, b)
        l_global = global_loss(g_hat, b.g_tgt, cfg.lambda_sim, cfg.lambda_l1)
        l_local = local_loss(predict_local(h2, b, switch_global(b.g_tgt, g_hat, cfg.p_gt, switch_gen)), b.s_tgt)
        return cfg.global_weight * l_global + cfg.local_weight * l_local, {"global": l_global.item(), "local": l_local.item()}

    return _fit([h1, h2], loss, data, cfg, "joint fine-tuning", progress, state_dir,
                extra_state={"switch_generator": GeneratorState(switch_gen)})


# --- scoring --------------------------------------------------------------------------------------

@torch.no_grad()
def score(data: SeparationExamples, h1: SeparationTransformer | None = None, h2: SeparationTransformer | None = None,
          single: SeparationTransformer | None = None, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Per-example scores on ``data``:

    * ``cos_mix``: cos(G_mix, G_tgt) (the floor H1 must beat); ``cos_h1``: cos(Ĝ, G_tgt);
    * ``l1_mix``: L1(S_mix, S_tgt) (the floor); ``l1_h2_oracle``: H2 with G_tgt;
      ``l1_h2``: H2 with Ĝ from H1 (Ours); ``l1_single``: Ours_single.
    Also ``task`` per example."""
    cos = torch.nn.functional.cosine_similarity
    out: dict[str, list] = {}
    for i in range(0, len(data), batch_size):
        b = data.batch(np.arange(i, min(i + batch_size, len(data))))
        l1 = lambda s: (s - b.s_tgt).abs().mean((1, 2)).cpu()
        out.setdefault("task", []).append(b.task.cpu())
        out.setdefault("cos_mix", []).append(cos(b.g_mix, b.g_tgt, dim=-1).cpu())
        out.setdefault("l1_mix", []).append(l1(b.s_mix))
        g_hat = None
        if h1 is not None:
            g_hat = predict_global(h1, b)
            out.setdefault("cos_h1", []).append(cos(g_hat, b.g_tgt, dim=-1).cpu())
        if h2 is not None:
            out.setdefault("l1_h2_oracle", []).append(l1(predict_local(h2, b, b.g_tgt)))
            if g_hat is not None:
                out.setdefault("l1_h2", []).append(l1(predict_local(h2, b, g_hat)))
        if single is not None:
            out.setdefault("l1_single", []).append(l1(predict_local(single, b, None)))
    return {k: torch.cat(v).numpy() for k, v in out.items()}
