"""The non-autoregressive acoustic decoder: S -> codec tokens in one pass.

A cpu-profile stand-in for the autoregressive acoustic LM H3 (paper Sec. III-E1), chosen by
measurement (``params.yaml``): at this budget the LM's output from the target's own S is further
from the target, for the tagger, than the unprocessed mixture is, and this decoder's is closer.
The paper profile keeps the LM.

S's patch rows ([T/P rows, (F/P) x C_s], time-major) each go through a linear map to the model
width; a pre-norm transformer mixes the rows; each row is unfolded to the codec frames it covers
(8 frames of 20 ms per 160-ms row), and two 1-D convolutions over frames smooth across row edges.
The output at each frame is a point in every group's code space: the shape latent (``code_dim``
dimensions per shape group) and the gain in dB. It is trained by regression, MSE on per-dimension
standardised targets, to the codec's own unquantized latent and coded gain of the clip; the
tokens are the nearest code of each group.

Why regression and not a classifier over codes: the tagger and the listener judge the decoded
spectrum, and the mean of the plausible latents decodes to a plausible (if smoother) spectrum,
whereas the most likely code per group, chosen independently per frame, need not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.models.config import ModelConfig
from hsm_lib.models.layers import Block


@dataclass
class AcousticNARConfig(ModelConfig):
    cond_dim: int = 768          # C_s of S
    rows: int = 64               # time rows of S (T / P)
    cols: int = 8                # S's patches per row (F / P)
    frames_per_row: int = 8      # codec frames per row: 160-ms patches / 20-ms frames
    groups: int = 12             # G, as the codec: G - 1 shape groups and the gain group last
    codebook_size: int = 1024    # K, as the codec
    code_dim: int = 8            # d: dimensions of a shape group's code vectors
    dim: int = 256
    layers: int = 4
    heads: int = 4
    kernel: int = 5              # the frame convolutions' kernel, in frames
    conv_channels: int = 256     # the frame convolutions' channels

    @property
    def out_dim(self) -> int:
        """Per frame: (G - 1) d shape-latent dimensions and the gain in dB."""
        return (self.groups - 1) * self.code_dim + 1

    @property
    def frames(self) -> int:
        """Codec frames S spans: at least a clip's (S's fbank is padded to whole patches)."""
        return self.rows * self.frames_per_row


class AcousticNAR(nn.Module):
    def __init__(self, cfg: AcousticNARConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.row_in = nn.Linear(cfg.cols * cfg.cond_dim, d)
        self.row_pos = nn.Parameter(torch.zeros(1, cfg.rows, d))
        self.blocks = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.layers))
        self.unfold = nn.Linear(d, cfg.frames_per_row * (d // 4))   # a row -> its frames, d/4 wide each
        c = cfg.conv_channels
        self.frame_convs = nn.Sequential(nn.Conv1d(d // 4, c, cfg.kernel, padding=cfg.kernel // 2), nn.GELU(),
                                         nn.Conv1d(c, c, cfg.kernel, padding=cfg.kernel // 2), nn.GELU())
        self.out = nn.Conv1d(c, cfg.out_dim, 1)
        # The targets' per-dimension mean and spread (set_target_stats), and what each code stands
        # for (set_code_vectors): the model's output is in standardised units.
        self.register_buffer("target_mean", torch.zeros(cfg.out_dim))
        self.register_buffer("target_std", torch.ones(cfg.out_dim))
        self.register_buffer("code_vectors", torch.zeros(cfg.groups, cfg.codebook_size, cfg.code_dim))

    def set_target_stats(self, targets: torch.Tensor) -> None:
        """Standardise by the training targets [N, T, out_dim] (codec latent and gain dB per frame)."""
        flat = targets.reshape(-1, self.cfg.out_dim).float()
        self.target_mean.copy_(flat.mean(0))
        self.target_std.copy_(flat.std(0).clamp_min(1e-4))

    def set_code_vectors(self, vectors: torch.Tensor) -> None:
        """The codec's code vectors [G, K, d'] (d' <= code_dim; the gain group's dB in column 0)."""
        g, k, dim = vectors.shape
        if (g, k) != (self.cfg.groups, self.cfg.codebook_size) or dim > self.cfg.code_dim:
            raise ValueError(f"code vectors {list(vectors.shape)} do not fit groups={self.cfg.groups}, "
                             f"codebook_size={self.cfg.codebook_size}, code_dim={self.cfg.code_dim}")
        self.code_vectors.zero_()
        self.code_vectors[:, :, :dim] = vectors.float()

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """S [B, P, C_s] -> standardised predictions [B, frames, out_dim]."""
        b, p, c = cond.shape
        cfg = self.cfg
        if p != cfg.rows * cfg.cols or c != cfg.cond_dim:
            raise ValueError(f"S is [{p}, {c}] per clip, the decoder expects [{cfg.rows * cfg.cols}, {cfg.cond_dim}]")
        x = self.row_in(cond.reshape(b, cfg.rows, cfg.cols * c)) + self.row_pos
        for block in self.blocks:
            x = block(x)
        x = self.unfold(x).reshape(b, cfg.frames, -1).transpose(1, 2)   # [B, d/4, frames]
        return self.out(self.frame_convs(x)).transpose(1, 2)

    def predict(self, cond: torch.Tensor) -> torch.Tensor:
        """S [B, P, C_s] -> [B, frames, out_dim] in the targets' own units (latent, gain dB)."""
        return self(cond) * self.target_std + self.target_mean

    def tokens(self, values: torch.Tensor) -> torch.Tensor:
        """Predicted values [B, T, out_dim] -> the nearest code of each group [B, T, G]."""
        cfg = self.cfg
        b, t, _ = values.shape
        shape = values[..., :-1].reshape(b * t, cfg.groups - 1, cfg.code_dim).transpose(0, 1)   # [G-1, BT, d]
        points = torch.cat([shape, F.pad(values[..., -1:], (0, cfg.code_dim - 1)).reshape(1, b * t, cfg.code_dim)])
        codes = torch.cdist(points, self.code_vectors).argmin(-1)                               # [G, BT]
        return codes.transpose(0, 1).reshape(b, t, cfg.groups)

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, max_frames: int, temperature: float = 0.0, top_k: int = 0,
                 generator: torch.Generator | None = None, stop_at_end: bool = False,
                 use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The acoustic LM's interface: S [B, P, C_s] -> (tokens [B, T, G], lengths [B]), T = min(max_frames,
        frames). Deterministic: it samples nothing, so a temperature other than 0 is an error."""
        if temperature != 0 or top_k != 0:
            raise ValueError("the non-autoregressive decoder is deterministic: set sampling temperature 0 and top_k 0")
        t = min(max_frames, self.cfg.frames)
        toks = self.tokens(self.predict(cond))[:, :t]
        return toks, torch.full((len(cond),), t, dtype=torch.long, device=cond.device)
