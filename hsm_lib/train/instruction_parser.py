"""Training the learned instruction parser (:mod:`hsm_lib.text.learned_parser`) on generated
instructions (:mod:`hsm_lib.text.instruction_generator`).

The encoder is frozen, so its features are computed once: the examples are sorted by length
and encoded in chunks (little padding), kept per example in float16 (a few hundred MB for ten
thousand), and padded per batch. The loss is the sum of three cross-entropies: task, caption
start token, caption end token. AdamW with a linear warm-up and a cosine decay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hsm_lib.text.instruction_generator import GeneratedInstruction
from hsm_lib.text.learned_parser import TASKS, FrozenEncoder, ParserConfig, ParserHead, span_targets


@dataclass
class EncodedExamples:
    """Per example: features [L_i, C] float16, mask [L_i] bool; targets task/start/end [N] long."""

    feats: list[torch.Tensor]
    masks: list[torch.Tensor]
    task: torch.Tensor
    start: torch.Tensor
    end: torch.Tensor

    def batch(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, L, C] float32 features and [B, L] mask, padded to the batch's longest."""
        length = max(self.feats[i].shape[0] for i in idx)
        f = torch.zeros(len(idx), length, self.feats[0].shape[1])
        m = torch.zeros(len(idx), length, dtype=torch.bool)
        for k, i in enumerate(idx):
            f[k, : self.feats[i].shape[0]] = self.feats[i].float()
            m[k, : self.masks[i].shape[0]] = self.masks[i]
        return f, m


def encode_examples(examples: list[GeneratedInstruction], encoder: FrozenEncoder, chunk: int = 256,
                    progress: bool = False) -> EncodedExamples:
    """Run the frozen encoder once over every example (sorted by length, in chunks)."""
    from tqdm.auto import tqdm

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].text))
    feats: list[torch.Tensor] = [torch.empty(0)] * len(examples)
    masks: list[torch.Tensor] = [torch.empty(0)] * len(examples)
    start = torch.zeros(len(examples), dtype=torch.long)
    end = torch.zeros(len(examples), dtype=torch.long)
    chunks = range(0, len(order), chunk)
    for c in tqdm(chunks, desc="encoding instructions", disable=not progress):
        idx = order[c:c + chunk]
        enc = encoder([examples[i].text for i in idx])
        s, e = span_targets(enc, [examples[i].span for i in idx])
        for k, i in enumerate(idx):
            n = int(enc.mask[k].sum()) + 2          # real tokens and [CLS], [SEP]
            feats[i], masks[i] = enc.feats[k, :n].half(), enc.mask[k, :n]
            start[i], end[i] = s[k], e[k]
    task = torch.tensor([TASKS.index(x.task) for x in examples])
    return EncodedExamples(feats, masks, task, start, end)


def parser_loss(head: ParserHead, data: EncodedExamples, idx: list[int]) -> torch.Tensor:
    f, m = data.batch(idx)
    task, start, end = head(f, m)
    i = torch.tensor(idx)
    return F.cross_entropy(task, data.task[i]) + F.cross_entropy(start, data.start[i]) + F.cross_entropy(end, data.end[i])


def train_parser(data: EncodedExamples, cfg: ParserConfig, steps: int, batch_size: int = 64, lr: float = 1e-3,
                 warmup: int = 100, seed: int = 0, progress: bool = False) -> tuple[ParserHead, dict[str, list[float]]]:
    """Train a fresh head; returns it (eval mode) and its history (step, loss averaged over 50 steps)."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    head = ParserHead(cfg)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"step": [], "loss": []}
    running = []
    head.train()
    for step in tqdm(range(steps), desc="training the parser", disable=not progress):
        scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        idx = torch.randint(0, len(data.feats), (batch_size,), generator=gen).tolist()
        loss = parser_loss(head, data, idx)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.step()
        running.append(float(loss.detach()))
        if len(running) == 50 or step == steps - 1:
            history["step"].append(step + 1)
            history["loss"].append(sum(running) / len(running))
            running = []
    return head.eval(), history
