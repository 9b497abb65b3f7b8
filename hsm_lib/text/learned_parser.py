"""A learned instruction parser: a task classifier and a caption-span pointer on frozen MiniLM.

    parser = LearnedParser.load("data/cpu/models/instruction_parser")
    parser.parse("There's a lawnmower the whole time. Can you get rid of it?")
    # ParseResult(task='removal', caption='a lawnmower', confidence=0.97, ...)

The rules (:mod:`hsm_lib.text.instructions`) stay the fast path; this parser reads what they
cannot: the sound named in one sentence and the action in another, idioms, framing qualifiers.
The paper asks an LLM (Sec. III-F); offline we train a small head instead, on instructions that
:mod:`hsm_lib.text.instruction_generator` writes, over the frozen sentence encoder every
profile already has (all-MiniLM-L6-v2, inside a pip wheel).

The head, on the encoder's token features [B, N, 384]:

- a linear map to ``dim`` and ``layers`` transformer layers (bidirectional);
- the task: two logits from the mean over real tokens;
- the caption: a start and an end logit per token; the caption is the highest-scoring span
  (start <= end, at most ``max_span`` tokens), cut from the normalised instruction by the
  tokenizer's character offsets, so it is always the instruction's own words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from hsm_lib.models.config import ModelConfig
from hsm_lib.text.instructions import normalise

if TYPE_CHECKING:
    from hsm_lib.text.instructions import Instruction

KIND = "instruction_parser"
FOLDER = "instruction_parser"   # its folder beside the separator's models (data/<profile>/models/instruction_parser)
TASKS = ("extraction", "removal")
_EDGE_PUNCT = re.compile(r"^[\s\"'`(\[,.;:!?…—–-]+|[\s\"'`)\],.;:!?…—–-]+$")


def strip_edges(caption: str) -> str:
    """Punctuation and quotes at a caption's ends go; inner ones stay. A quote that closes one
    opened inside the caption stays ('a woman says "hello"')."""
    stripped = _EDGE_PUNCT.sub("", caption)
    if caption.rstrip(".!?,;: ").endswith('"') and stripped.count('"') % 2 == 1:
        stripped += '"'
    return stripped


@dataclass
class ParserConfig(ModelConfig):
    text_dim: int = 1152     # the frozen encoder's width times len(layers)
    layers_used: tuple[int, ...] = (0, 3, 6)   # which of the encoder's hidden states are concatenated
    dim: int = 128
    layers: int = 2
    heads: int = 4
    max_tokens: int = 96
    max_span: int = 32       # tokens


class ParserHead(nn.Module):
    """Token features [B, N, text_dim] + mask [B, N] -> task logits [B, 2], start and end
    logits [B, N] (masked positions at -inf)."""

    def __init__(self, cfg: ParserConfig):
        super().__init__()
        self.cfg = cfg
        self.proj = nn.Sequential(nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, cfg.dim))
        self.pos = nn.Parameter(torch.zeros(cfg.max_tokens, cfg.dim))
        layer = nn.TransformerEncoderLayer(cfg.dim, cfg.heads, 2 * cfg.dim, dropout=0.1, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.task = nn.Linear(cfg.dim, len(TASKS))
        self.span = nn.Linear(cfg.dim, 2)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = feats.shape[1]
        h = self.proj(feats) + self.pos[:n]
        h = self.norm(self.encoder(h, src_key_padding_mask=~mask))
        w = mask.unsqueeze(-1).to(h.dtype)
        task = self.task((h * w).sum(1) / w.sum(1).clamp_min(1.0))
        start, end = self.span(h).unbind(-1)
        neg = torch.finfo(start.dtype).min
        return task, start.masked_fill(~mask, neg), end.masked_fill(~mask, neg)


@dataclass
class ParseResult:
    task: str
    caption: str
    confidence: float       # P(task) * P(start) * P(end) of the chosen answer
    task_probability: float


@dataclass
class Encoded:
    """A batch of normalised instructions through the frozen encoder.

    feats [B, N, C], mask [B, N] (True on tokens that may hold the caption: not [CLS]/[SEP]/pad),
    offsets [B, N, 2] character ranges in ``texts``."""

    texts: list[str]
    feats: torch.Tensor
    mask: torch.Tensor
    offsets: torch.Tensor


class FrozenEncoder:
    """MiniLM's tokenizer (with character offsets) and encoder, frozen."""

    def __init__(self, name: str = "minilm", max_tokens: int = 96, layers: tuple[int, ...] = (0, 3, 6),
                 backbone=None):
        from hsm_lib.text.backbone import TextBackbone

        # a MiniLM the caller already loaded (the separator's) is shared, not loaded twice
        self.backbone = backbone if backbone is not None else TextBackbone(name, max_tokens=max_tokens)
        self.max_tokens, self.layers = max_tokens, tuple(layers)

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> Encoded:
        """Instructions [B] -> their token features, padded to the longest (call in chunks)."""
        norm = [normalise(t) for t in texts]
        batch = self.backbone.tokenizer(norm, padding=True, truncation=True, max_length=self.max_tokens,
                                        return_tensors="pt", return_offsets_mapping=True,
                                        return_special_tokens_mask=True)
        hidden = self.backbone.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                       output_hidden_states=True).hidden_states
        # the word embeddings (layer 0) say which verb it is; the middle and last layers, its role
        feats = torch.cat([hidden[i] for i in self.layers], -1)
        mask = batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()
        return Encoded(norm, feats, mask, batch["offset_mapping"])


def span_targets(enc: Encoded, spans: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Character spans -> (start token [B], end token [B]): the first and last real token that
    overlaps the span."""
    starts, ends = [], []
    for b, (a, z) in enumerate(spans):
        off = enc.offsets[b]
        inside = enc.mask[b] & (off[:, 1] > a) & (off[:, 0] < z)
        idx = inside.nonzero().flatten()
        if len(idx) == 0:
            raise ValueError(f"caption span {a}:{z} of {enc.texts[b]!r} covers no token (truncated?)")
        starts.append(int(idx[0]))
        ends.append(int(idx[-1]))
    return torch.tensor(starts), torch.tensor(ends)


def _word_char(c: str) -> bool:
    return c.isalnum() or c in "'-"


def word_bounds(text: str, a: int, z: int) -> tuple[int, int]:
    """Widen [a, z) to whole words: a span that starts or ends inside a word (a word piece, or
    "woman" of "woman's") takes the whole word."""
    while 0 < a < len(text) and _word_char(text[a - 1]) and _word_char(text[a]):
        a -= 1
    while 0 < z < len(text) and _word_char(text[z]) and _word_char(text[z - 1]):
        z += 1
    return a, z


def best_spans(start: torch.Tensor, end: torch.Tensor, max_span: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-softmax start/end scores [B, N] -> the best (start, end) with start <= end < start +
    max_span, and its joint probability [B]."""
    ls, le = start.log_softmax(-1), end.log_softmax(-1)
    n = ls.shape[1]
    score = ls.unsqueeze(2) + le.unsqueeze(1)                                  # [B, N(start), N(end)]
    i = torch.arange(n)
    allowed = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_span)
    score = score.masked_fill(~allowed, -math.inf)
    flat = score.flatten(1).argmax(1)
    s, e = flat // n, flat % n
    return s, e, score.flatten(1).gather(1, flat[:, None])[:, 0].exp()


class LearnedParser:
    """The trained head and its frozen encoder: ``parse(text) -> ParseResult``."""

    def __init__(self, head: ParserHead, encoder: FrozenEncoder | None = None):
        self.head = head.eval()
        self.encoder = encoder or FrozenEncoder(max_tokens=head.cfg.max_tokens, layers=head.cfg.layers_used)

    @torch.no_grad()
    def parse_many(self, texts: list[str], chunk: int = 128) -> list[ParseResult]:
        """Instructions [B] -> one :class:`ParseResult` each (read ``chunk`` at a time)."""
        if len(texts) > chunk:
            return [r for i in range(0, len(texts), chunk) for r in self.parse_many(texts[i:i + chunk], chunk)]
        enc = self.encoder(texts)
        task, start, end = self.head(enc.feats, enc.mask)
        p_task = task.softmax(-1)
        s, e, p_span = best_spans(start, end, self.head.cfg.max_span)
        out = []
        for b, text in enumerate(enc.texts):
            a, z = word_bounds(text, int(enc.offsets[b, s[b], 0]), int(enc.offsets[b, e[b], 1]))
            k = int(p_task[b].argmax())
            out.append(ParseResult(TASKS[k], strip_edges(text[a:z]), float(p_task[b, k] * p_span[b]), float(p_task[b, k])))
        return out

    def parse(self, text: str) -> ParseResult:
        return self.parse_many([text])[0]

    def instructions(self, texts: list[str]) -> list["Instruction"]:
        """The learned parser alone, as Instructions (validated first: text, not empty, not only a verb)."""
        from hsm_lib.text.instructions import Instruction, check_instruction

        for t in texts:
            check_instruction(t)
        return [Instruction(r.task, r.caption) for r in self.parse_many(texts)]

    def save(self, folder: str | Path, extra: dict | None = None) -> Path:
        from hsm_lib.checkpoint import save_checkpoint

        return save_checkpoint(folder, self.head, KIND, self.head.cfg.to_dict(), extra)

    @classmethod
    def load(cls, folder: str | Path, backbone=None) -> "LearnedParser":
        """A saved head and a frozen MiniLM (``backbone``, a loaded MiniLM TextBackbone, is reused)."""
        from hsm_lib.checkpoint import load_weights, read_config

        meta = read_config(folder, KIND)
        cfg = ParserConfig(**{**meta["config"], "layers_used": tuple(meta["config"]["layers_used"])})
        head = load_weights(folder, ParserHead(cfg))
        return cls(head, FrozenEncoder(max_tokens=cfg.max_tokens, layers=cfg.layers_used, backbone=backbone))


@dataclass
class Decision:
    """What the hybrid parser answered, and which path decided (``"rules"`` or ``"learned"``)."""

    instruction: "Instruction"
    path: str
    reason: str          # why that path
    rules: "Instruction | None"      # None: the rules found only a reference ("it", "everything")
    learned: ParseResult | None = None

    def to_dict(self) -> dict:
        out = {**self.instruction.to_dict(), "path": self.path, "reason": self.reason}
        if self.learned is not None:
            out["learned_confidence"] = round(self.learned.confidence, 3)
        return out


BARE_AGREEMENT = 0.9   # caption F1 above which the learned parser agrees that no task phrase is there


class HybridParser:
    """The rules where they are sure of their reading, the learned parser where they are not
    (:func:`~hsm_lib.text.instructions.rules_unsure`). A callable ``text -> Instruction``, so
    it plugs into :func:`~hsm_lib.text.instructions.parse_instruction` and the separator."""

    def __init__(self, learned: LearnedParser):
        self.learned = learned

    def decide(self, text: str) -> Decision:
        return self.decide_many([text])[0]

    def decide_many(self, texts: list[str]) -> list[Decision]:
        """:meth:`decide` for many instructions, the learned parser reading the unsure ones at once."""
        from hsm_lib.text.instruction_cases import token_f1
        from hsm_lib.text.instructions import Instruction, ReferenceOnlyError, parse_rules_traced, rules_unsure

        traced, errors = [], {}
        for i, t in enumerate(texts):   # also the validation: empty, not text, names no sound
            try:
                traced.append(parse_rules_traced(t))
            except ReferenceOnlyError as e:   # "hear everything except ..." read wrongly: ask the learned parser
                traced.append((None, None))
                errors[i] = e
        rules = [r for r, _ in traced]
        why = [f"the rules found no sound ({errors[i]})" if i in errors else rules_unsure(t, tr)
               for i, (t, tr) in enumerate(zip(texts, traced))]
        unsure = [i for i, w in enumerate(why) if w is not None]
        learned = dict(zip(unsure, self.learned.parse_many([texts[i] for i in unsure]))) if unsure else {}
        out = []
        for i, (r, w) in enumerate(zip(rules, why)):
            if w is None:
                out.append(Decision(r, "rules", "the rules matched cleanly", r))
            elif learned[i].caption in ("", "it", "this", "that", "them", "something", "everything"):
                if i in errors:
                    raise errors[i]
                out.append(Decision(r, "rules", f"rules unsure ({w}), but the learned caption names nothing", r, learned[i]))
            elif (traced[i][1] is None and w.startswith("no rule matched:")
                  and token_f1(learned[i].caption, r.caption) >= BARE_AGREEMENT):
                # both read the whole instruction as the sound: a bare description, which asks to extract it
                out.append(Decision(r, "rules", "a bare description (the learned parser's caption agrees)", r, learned[i]))
            else:
                out.append(Decision(Instruction(learned[i].task, learned[i].caption), "learned", f"rules unsure: {w}",
                                    r, learned[i]))
        return out

    def __call__(self, text: str) -> "Instruction":
        return self.decide(text).instruction
