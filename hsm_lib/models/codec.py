"""A causal convolutional neural codec with a group vector quantizer (paper Sec. III-E2).

The paper retrains a non-predictive TF-Codec (Jiang et al., "Latent-Domain Predictive Neural
Speech Coding", 2023) for general audio at 6 kbps, causal, with a multi-scale mel
discriminator. TF-Codec's weights are not public; this module is our own codec in its spirit:

* encoder: causal 1-D convolutions (left padding only) with residual units and strided
  downsampling, 16 kHz waveform -> latent frames of ``latent_dim`` channels, ``hop`` samples each;
* group VQ: the latent's channels are split into ``groups`` groups of ``latent_dim / groups``;
  each group has its own codebook of ``codebook_size`` codes (EMA updates, dead-code restarts,
  straight-through gradients, commitment loss);
* decoder: the mirror image with causal transposed convolutions.

Bitrate = sample_rate / hop x groups x log2(codebook_size); the paper profile uses 20 ms frames
(hop 320) and 12 groups of 1024 codes: 50 x 12 x 10 = 6000 bit/s.

Causality is at frame granularity: output sample t depends on input samples up to the end of
the frame that holds t (one frame, 20 ms, of algorithmic latency) and never on later frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.models.config import ModelConfig


class Bitrate:
    """Frame rate and bitrate of a codec config with ``sample_rate``, ``hop`` (samples per token
    frame), ``groups`` and ``codebook_size`` (shared by both codecs' configs)."""

    sample_rate: int
    groups: int
    codebook_size: int
    hop: int

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def bits_per_frame(self) -> int:
        return self.groups * int(math.log2(self.codebook_size))

    @property
    def bitrate(self) -> float:
        """Bits per second."""
        return self.frame_rate * self.bits_per_frame


@dataclass
class CodecConfig(Bitrate, ModelConfig):
    sample_rate: int = SAMPLE_RATE
    channels: int = 32                      # width after the first convolution; doubles per downsampling
    strides: list[int] = field(default_factory=lambda: [2, 4, 5, 8])  # hop = product = 320 (20 ms)
    latent_dim: int = 96                    # = groups x per-group code width
    groups: int = 12                        # G
    codebook_size: int = 1024               # 10 bits per group and frame
    residual_units: int = 1                 # dilated residual units before each downsampling
    ema_decay: float = 0.99
    commitment: float = 0.25
    dead_code_threshold: float = 0.1        # restart a code whose recent usage falls below this fraction of uniform usage
    usage_decay: float = 0.9                # EMA decay of the usage statistic (fast: ~10 steps of memory)

    def __post_init__(self) -> None:
        if self.latent_dim % self.groups:
            raise ValueError(f"latent_dim {self.latent_dim} does not split into {self.groups} groups")
        if self.codebook_size & (self.codebook_size - 1):
            raise ValueError("codebook_size must be a power of two (a whole number of bits)")

    @property
    def hop(self) -> int:
        return math.prod(self.strides)


def check_tokens(tokens: torch.Tensor, cfg: Bitrate) -> None:
    """Raise ValueError unless ``tokens`` is [B, T_a, groups] with ids in [0, codebook_size)."""
    if tokens.dim() != 3 or tokens.shape[-1] != cfg.groups:
        raise ValueError(f"tokens must be [B, T_a, {cfg.groups}], got {list(tokens.shape)}")
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= cfg.codebook_size):
        raise ValueError(f"token ids must lie in [0, {cfg.codebook_size})")


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left only: output k sees inputs up to (k + 1) * stride - 1."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__(c_in, c_out, kernel, stride=stride, dilation=dilation)
        self.left = dilation * (kernel - 1) - (stride - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (max(0, self.left), 0)))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Upsampling by ``stride`` with kernel 2 * stride, trimmed on the right so that output
    sample t depends on input frames <= t // stride only."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__(c_in, c_out, 2 * stride, stride=stride)
        self.stride_ = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[..., : x.shape[-1] * self.stride_]


class ResidualUnit(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), CausalConv1d(ch, ch, 7, dilation=dilation), nn.ELU(), nn.Conv1d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class Encoder(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        ch = cfg.channels
        layers: list[nn.Module] = [CausalConv1d(1, ch, 7)]
        for s in cfg.strides:
            layers += [ResidualUnit(ch, 3 ** i) for i in range(cfg.residual_units)]
            layers += [nn.ELU(), CausalConv1d(ch, 2 * ch, 2 * s, stride=s)]
            ch *= 2
        layers += [nn.ELU(), CausalConv1d(ch, cfg.latent_dim, 3)]
        self.net = nn.Sequential(*layers)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] -> [B, latent_dim, T / hop]."""
        return self.net(wave)


class Decoder(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        ch = cfg.channels * 2 ** len(cfg.strides)
        layers: list[nn.Module] = [CausalConv1d(cfg.latent_dim, ch, 7)]
        for s in reversed(cfg.strides):
            layers += [nn.ELU(), CausalConvTranspose1d(ch, ch // 2, s)]
            ch //= 2
            layers += [ResidualUnit(ch, 3 ** i) for i in range(cfg.residual_units)]
        layers += [nn.ELU(), CausalConv1d(ch, 1, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """[B, latent_dim, frames] -> [B, 1, frames * hop]."""
        return self.net(latent)


@dataclass
class VQSettings:
    """What :class:`GroupVQ` reads (a :class:`CodecConfig` has the same fields): ``groups``
    codebooks of ``codebook_size`` codes over ``latent_dim / groups`` channels each."""

    groups: int
    codebook_size: int
    latent_dim: int
    ema_decay: float = 0.99
    commitment: float = 0.25
    dead_code_threshold: float = 0.1
    usage_decay: float = 0.9


class GroupVQ(nn.Module):
    """``groups`` independent codebooks, one per slice of the latent's channels.

    Codebooks follow an exponential moving average of the vectors assigned to them (VQ-VAE-2,
    SoundStream). They start from encoder outputs of the first training batch (random codes far
    from the latents collapse to a handful in use), and codes whose recent usage falls below
    ``dead_code_threshold`` x uniform usage are restarted from random encoder outputs of the
    current batch.
    """

    def __init__(self, cfg: CodecConfig | VQSettings):
        super().__init__()
        self.g, self.k, self.d = cfg.groups, cfg.codebook_size, cfg.latent_dim // cfg.groups
        self.decay, self.beta, self.threshold = cfg.ema_decay, cfg.commitment, cfg.dead_code_threshold
        self.usage_decay = cfg.usage_decay
        self.register_buffer("codebook", torch.randn(self.g, self.k, self.d))
        self.register_buffer("ema_count", torch.ones(self.g, self.k))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("usage", torch.ones(self.g, self.k) / self.k)
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def _split(self, latent: torch.Tensor) -> torch.Tensor:
        """[B, latent_dim, T] -> [G, B*T, d]."""
        b, _, t = latent.shape
        return latent.view(b, self.g, self.d, t).permute(1, 0, 3, 2).reshape(self.g, b * t, self.d)

    def codes(self, latent: torch.Tensor) -> torch.Tensor:
        """[B, latent_dim, T] -> indices [B, T, G] of the nearest code in each group's codebook."""
        b, _, t = latent.shape
        x = self._split(latent)
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; the first term is the same for every code, so
        # the nearest code minimises ||c||^2 - 2 x.c (one fused batched matmul)
        dist = torch.baddbmm(self.codebook.pow(2).sum(-1)[:, None, :], x, self.codebook.transpose(1, 2), alpha=-2.0)
        return dist.argmin(-1).view(self.g, b, t).permute(1, 2, 0)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Indices [B, T, G] -> quantized latent [B, latent_dim, T]."""
        b, t, _ = codes.shape
        q = torch.stack([self.codebook[i][codes[..., i]] for i in range(self.g)], dim=2)  # [B, T, G, d]
        return q.reshape(b, t, self.g * self.d).transpose(1, 2)

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (quantized latent with straight-through gradient [B, latent_dim, T],
        codes [B, T, G], commitment loss)."""
        if self.training and not bool(self.initialised):
            self._init_from(latent.detach())
        codes = self.codes(latent)
        q = self.lookup(codes)
        if self.training:
            self._ema_update(latent.detach(), codes)
        commit = F.mse_loss(latent, q.detach())
        # straight-through estimator: the forward pass uses q, the gradient flows to latent as if identity
        return latent + (q - latent).detach(), codes, self.beta * commit

    @torch.no_grad()
    def _init_from(self, latent: torch.Tensor) -> None:
        """Codebooks := random encoder outputs of this batch (with replacement if it is small)."""
        x = self._split(latent)
        pick = torch.randint(0, x.shape[1], (self.g, self.k), device=x.device)
        self.codebook.copy_(torch.gather(x, 1, pick.unsqueeze(-1).expand(-1, -1, self.d)))
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, latent: torch.Tensor, codes: torch.Tensor) -> None:
        x = self._split(latent)                                    # [G, N, d]
        # per-code counts and sums by scatter-add over flat (group, code) slots: a one-hot
        # [G, N, K] matmul did the same at several times the cost on a CPU
        slot = (codes.permute(2, 0, 1).reshape(self.g, -1) + self.k * torch.arange(self.g, device=x.device)[:, None]).reshape(-1)
        count = torch.bincount(slot, minlength=self.g * self.k).view(self.g, self.k).type_as(x)
        sums = x.new_zeros(self.g * self.k, self.d).index_add_(0, slot, x.reshape(-1, self.d)).view(self.g, self.k, self.d)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum(-1, keepdim=True)
        smoothed = (self.ema_count + 1e-5) / (n + self.k * 1e-5) * n  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(-1))
        self.usage.mul_(self.usage_decay).add_(count / x.shape[1], alpha=1 - self.usage_decay)
        dead = self.usage < self.threshold / self.k
        if dead.any():  # restart unused codes on random encoder outputs of this batch
            for gi in range(self.g):
                idx = dead[gi].nonzero().squeeze(1)
                if len(idx):
                    pick = torch.randint(0, x.shape[1], (len(idx),), device=x.device)
                    self.codebook[gi, idx] = x[gi, pick]
                    self.ema_sum[gi, idx] = x[gi, pick]
                    self.ema_count[gi, idx] = 1.0
                    self.usage[gi, idx] = 1.0 / self.k


class Codec(nn.Module):
    """``encode(wave) -> tokens [B, T_a, G]`` and ``decode(tokens) -> wave`` are the public calls."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.quantizer, self.decoder = Encoder(cfg), GroupVQ(cfg), Decoder(cfg)

    def _pad(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 2:
            wave = wave.unsqueeze(1)
        if wave.dim() != 3 or wave.shape[1] != 1:
            raise ValueError(f"codec expects a mono waveform [B, T] or [B, 1, T], got {list(wave.shape)}")
        rem = (-wave.shape[-1]) % self.cfg.hop
        return F.pad(wave, (0, rem))  # whole frames; trailing padding cannot affect earlier output

    @torch.no_grad()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform [B, T] (16 kHz, in [-1, 1]) -> tokens [B, ceil(T / hop), G] (int64)."""
        return self.quantizer.codes(self.encoder(self._pad(wave)))

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [B, T_a, G] -> waveform [B, T_a * hop]."""
        check_tokens(tokens, self.cfg)
        return self.decoder(self.quantizer.lookup(tokens)).squeeze(1)

    def code_vectors(self) -> torch.Tensor:
        """What each token stands for, [G, K, d]: every group's codebook (for the acoustic LM's codebook head)."""
        return self.quantizer.codebook.detach().clone()

    def forward(self, wave: torch.Tensor, quantize: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (reconstruction [B, T'], codes [B, T_a, G], commitment loss).

        ``quantize=False`` skips the quantizer (a plain autoencoder; codes are returned but the
        codebooks neither initialise nor update): the trainer's quantizer warm-up."""
        latent = self.encoder(self._pad(wave))
        if not quantize:
            return self.decoder(latent).squeeze(1), self.quantizer.codes(latent.detach()), latent.new_zeros(())
        q, codes, commit = self.quantizer(latent)
        return self.decoder(q).squeeze(1), codes, commit
