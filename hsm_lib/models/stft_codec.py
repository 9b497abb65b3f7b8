"""A causal STFT-domain codec with gain-shape group VQ, in the spirit of TF-Codec (paper Sec. III-E2).

The paper's codec is TF-Codec (Jiang et al., "Latent-Domain Predictive Neural Speech Coding",
2023), retrained for general audio at 6 kbps. Its weights are not public; this is our own codec
after its design:

* analysis: STFT with a 20 ms Hann window and a 5 ms hop, magnitude compressed to the power
  ``compress`` (0.3) with the phase kept: the compressed complex spectrum, real and imaginary
  parts as channels. Frames are windowed on past samples only (left padding), and 4 STFT frames
  make one 20 ms codec frame (50 Hz);
* gain-shape coding: each codec frame's energy (the RMS of its compressed spectrum, in dB) is
  coded apart from its shape by a uniform scalar quantizer, one token of the frame; the shape
  (the compressed spectrum divided by that gain) goes through causal dilated 1-D convolutions
  into a latent coded by group VQ. Dynamics (how loud events are against the quiet floor) are
  then exact to a fraction of a dB whatever the network learns, which a waveform codec trained
  briefly gets badly wrong (shared/QUALITY.md);
* synthesis: the mirror convolutions predict the compressed complex shape of the 4 STFT frames,
  the decoded gain scales it, decompression restores the magnitude, and overlap-add of the
  inverse FFTs gives the waveform.

Tokens: ``[B, T_a, groups]``, groups - 1 shape codebooks and, last, the gain index; all of
``codebook_size`` values, so the acoustic LM sees the same kind of tokens as from :class:`Codec`.
Bitrate = 50 x groups x log2(codebook_size) = 6000 bit/s at 12 x 1024.

Causality: the encoder's latent frame t depends on samples up to the end of frame t only. The
decoder's frame t writes 4 windows that reach 15 ms (the window overlap) before the frame, so an
output sample is final one codec frame after the frame that holds it (20 ms frame + 15 ms
overlap of algorithmic latency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.models.codec import Bitrate, CausalConv1d, GroupVQ, VQSettings, check_tokens
from hsm_lib.models.config import ModelConfig


HEADS = ("complex", "mag_phase", "mag_if")
ENCODER_INPUTS = ("complex", "magnitude")
PHASE_TABLE_FRAMES = 4000             # the vocoder head's noise repeats every 4000 STFT frames (20 s)
RAYLEIGH_MEAN = (torch.pi / 4) ** 0.5   # E|z| of complex Gaussian z with E|z|^2 = 1
MEL_BANDS = 32


@dataclass
class STFTCodecConfig(Bitrate, ModelConfig):
    sample_rate: int = SAMPLE_RATE
    window: int = 320                 # 20 ms Hann analysis/synthesis window (TF-Codec)
    stft_hop: int = 80                # 5 ms
    frames_per_token: int = 4         # STFT frames per codec frame: 4 x 5 ms = 20 ms, 50 Hz
    compress: float = 0.3             # |X| -> |X| ** 0.3, phase kept (TF-Codec)
    channels: int = 256               # width of the causal convolution stacks
    blocks: int = 4                   # dilated residual blocks (dilation 1, 2, 4, ...) in each stack
    kernel: int = 3
    latent_dim: int = 88              # shape latent = (groups - 1) x per-group code width
    groups: int = 12                  # token groups per frame: groups - 1 shape codebooks + 1 gain
    codebook_size: int = 1024         # 10 bits per group and frame
    gain_min_db: float = -45.0        # range of the coded gain: dB of the compressed spectrum's RMS
    gain_max_db: float = 15.0         # (x 1/0.3 in signal dB: about 200 dB of range)
    ema_decay: float = 0.99
    commitment: float = 0.25
    dead_code_threshold: float = 0.1
    usage_decay: float = 0.9
    # What the decoder predicts per STFT bin: "complex" (real and imaginary parts of the compressed
    # spectrum, TF-Codec), "mag_phase" (log compressed magnitude and a phase angle, Vocos), or
    # "mag_if" (compressed magnitude and the phase advance since the previous STFT frame, as a
    # 2-vector whose length says how sure it is: a phase vocoder, see :meth:`STFTCodec._vocoder`).
    # A complex MSE under phase uncertainty shrinks the predicted magnitude towards zero; the
    # other heads keep the magnitude apart from the phase.
    head: str = "complex"
    # What the encoder sees: the compressed complex spectrum ("complex", TF-Codec) or its
    # magnitude only ("magnitude"); then the tokens say nothing of the phase, which the decoder
    # makes up, and they are a function of what a log-mel (or S) carries, so an acoustic LM
    # conditioned on S can predict them.
    encoder_input: str = "complex"
    noise_seed: int = 0               # the mag_if head's decoding noise comes from a fixed table: repeatable and causal

    def __post_init__(self) -> None:
        if self.groups < 2:
            raise ValueError("groups counts the gain group and at least one shape group")
        if self.latent_dim % (self.groups - 1):
            raise ValueError(f"latent_dim {self.latent_dim} does not split into {self.groups - 1} shape groups")
        if self.codebook_size & (self.codebook_size - 1):
            raise ValueError("codebook_size must be a power of two (a whole number of bits)")
        if self.window % self.stft_hop or self.window < self.stft_hop:
            raise ValueError("the window must be a whole number of STFT hops")
        if self.gain_max_db <= self.gain_min_db:
            raise ValueError("gain_max_db must exceed gain_min_db")
        if self.encoder_input not in ENCODER_INPUTS:
            raise ValueError(f"encoder_input must be one of {', '.join(ENCODER_INPUTS)}, got {self.encoder_input!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")

    @property
    def hop(self) -> int:
        """Samples per codec frame (320: 20 ms)."""
        return self.stft_hop * self.frames_per_token

    @property
    def bins(self) -> int:
        return self.window // 2 + 1


class CodecPass(NamedTuple):
    """What :meth:`STFTCodec.forward_parts` returns for the trainer."""

    recon: torch.Tensor      # [B, T'] the decoded waveform
    codes: torch.Tensor      # [B, T_a, G]
    commit: torch.Tensor     # the quantizer's commitment loss
    head_loss: torch.Tensor  # the decoder head's own loss (the vocoder head's magnitude and phase steps)


class _Block(nn.Module):
    """Causal dilated residual block: x + conv1x1(GELU(causal conv(GELU(x))))."""

    def __init__(self, ch: int, kernel: int, dilation: int):
        super().__init__()
        self.conv = CausalConv1d(ch, ch, kernel, dilation=dilation)
        self.mix = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(F.gelu(self.conv(F.gelu(x))))


def _stack(c_in: int, ch: int, c_out: int, cfg: STFTCodecConfig) -> nn.Sequential:
    return nn.Sequential(CausalConv1d(c_in, ch, cfg.kernel), *(_Block(ch, cfg.kernel, 2 ** i) for i in range(cfg.blocks)),
                         nn.GELU(), nn.Conv1d(ch, c_out, 1))


class STFTCodec(nn.Module):
    """``encode(wave) -> tokens [B, T_a, G]`` and ``decode(tokens) -> wave``, as :class:`Codec`."""

    def __init__(self, cfg: STFTCodecConfig):
        super().__init__()
        self.cfg = cfg
        spec_ch = 2 * cfg.bins * cfg.frames_per_token          # real + imaginary, 4 frames stacked
        self.spec_ch = spec_ch
        enc_ch = spec_ch if cfg.encoder_input == "complex" else spec_ch // 2
        self.encoder = _stack(enc_ch + 1, cfg.channels, cfg.latent_dim, cfg)      # + the frame's log-gain
        self.quantizer = GroupVQ(VQSettings(cfg.groups - 1, cfg.codebook_size, cfg.latent_dim, cfg.ema_decay,
                                            cfg.commitment, cfg.dead_code_threshold, cfg.usage_decay))
        head_ch = spec_ch * 3 // 2 if cfg.head == "mag_if" else spec_ch    # mag_if: magnitude + a 2-vector per bin
        self.decoder = _stack(cfg.latent_dim + 1, cfg.channels, head_ch, cfg)
        if cfg.head == "mag_if":   # complex N(0, 1) per bin and STFT frame, repeating every 20 s
            z = torch.randn(cfg.bins, PHASE_TABLE_FRAMES, dtype=torch.cfloat, generator=torch.Generator().manual_seed(cfg.noise_seed))
            self.register_buffer("noise_table", z, persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.window), persistent=False)
        # 32 HTK mel bands over the STFT's bins, for the head's log-mel loss (narrow enough for 20 ms windows)
        self.register_buffer("mel_fbank", torchaudio.functional.melscale_fbanks(
            cfg.bins, 0.0, cfg.sample_rate / 2, MEL_BANDS, cfg.sample_rate, mel_scale="htk"), persistent=False)

    # --- the STFT and its inverse ------------------------------------------------------------

    def _pad(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 3 and wave.shape[1] == 1:
            wave = wave[:, 0]
        if wave.dim() != 2:
            raise ValueError(f"codec expects a mono waveform [B, T] or [B, 1, T], got {list(wave.shape)}")
        return F.pad(wave, (0, (-wave.shape[-1]) % self.cfg.hop))   # whole codec frames

    def spectrum(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform [B, L] (L a multiple of hop) -> complex STFT [B, bins, L / stft_hop]; frame k
        holds the window that ends at sample (k + 1) * stft_hop (past samples only)."""
        cfg = self.cfg
        x = F.pad(wave, (cfg.window - cfg.stft_hop, 0))
        frames = x.unfold(-1, cfg.window, cfg.stft_hop) * self.window       # [B, K, window]
        return torch.fft.rfft(frames, dim=-1).transpose(1, 2)

    def waveform(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex STFT [B, bins, K] -> waveform [B, K * stft_hop] by weighted overlap-add."""
        cfg = self.cfg
        b, _, k = spec.shape
        frames = torch.fft.irfft(spec.transpose(1, 2), n=cfg.window, dim=-1) * self.window   # [B, K, window]
        length = (k - 1) * cfg.stft_hop + cfg.window
        fold = lambda f: F.fold(f.transpose(1, 2), (1, length), (1, cfg.window), stride=(1, cfg.stft_hop))[:, 0, 0]
        out = fold(frames)
        env = fold(self.window.pow(2).expand(1, k, -1))
        # The last windows of a clip have no successors to overlap with: fade there rather than
        # divide by a vanishing envelope (the interior envelope is 1.5 for Hann at 75 % overlap).
        out = out / env.clamp_min(0.5)
        return out[:, cfg.window - cfg.stft_hop:]

    def compressed(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex [B, bins, K] -> compressed complex |X| ** c * e^{j phase}."""
        mag = spec.abs()
        return spec * (mag.clamp_min(1e-9) ** (self.cfg.compress - 1))

    def decompressed(self, comp: torch.Tensor) -> torch.Tensor:
        mag = comp.abs()
        return comp * (mag.clamp_min(1e-9) ** (1 / self.cfg.compress - 1))

    # --- gain and shape ---------------------------------------------------------------------

    def _frames(self, comp: torch.Tensor) -> torch.Tensor:
        """Compressed complex [B, bins, 4T] -> real channels [B, 2 * bins * 4, T]."""
        b, f, k = comp.shape
        x = torch.view_as_real(comp).reshape(b, f, k // self.cfg.frames_per_token, self.cfg.frames_per_token, 2)
        return x.permute(0, 4, 3, 1, 2).reshape(b, -1, k // self.cfg.frames_per_token)

    def _unframes(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`_frames`: [B, 2 * bins * 4, T] -> complex [B, bins, 4T]."""
        cfg = self.cfg
        b, _, t = x.shape
        x = x.reshape(b, 2, cfg.frames_per_token, cfg.bins, t).permute(0, 3, 4, 2, 1)
        return torch.view_as_complex(x.reshape(b, cfg.bins, t * cfg.frames_per_token, 2).contiguous())

    def gain_db(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, C, T] compressed-spectrum channels -> each codec frame's RMS in dB [B, T]."""
        return 10 * torch.log10(frames.pow(2).mean(1) + 1e-12)

    def gain_codes(self, gain_db: torch.Tensor) -> torch.Tensor:
        """dB [B, T] -> uniform quantizer indices [B, T] in [0, codebook_size)."""
        cfg = self.cfg
        pos = (gain_db - cfg.gain_min_db) / (cfg.gain_max_db - cfg.gain_min_db) * (cfg.codebook_size - 1)
        return pos.round().clamp(0, cfg.codebook_size - 1).long()

    def gain_values(self, codes: torch.Tensor) -> torch.Tensor:
        """Indices [B, T] -> dB [B, T] (the quantizer's levels)."""
        cfg = self.cfg
        return cfg.gain_min_db + codes.float() / (cfg.codebook_size - 1) * (cfg.gain_max_db - cfg.gain_min_db)

    def _gain_channel(self, gain_db: torch.Tensor) -> torch.Tensor:
        """dB [B, T] -> a normalised conditioning channel [B, 1, T] for both stacks."""
        cfg = self.cfg
        mid, half = (cfg.gain_max_db + cfg.gain_min_db) / 2, (cfg.gain_max_db - cfg.gain_min_db) / 2
        return ((gain_db - mid) / half).unsqueeze(1)

    def _analyse(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Waveform -> (shape latent [B, latent_dim, T], gain codes [B, T], quantized gain dB [B, T],
        the compressed complex spectrum [B, bins, 4T] that the trainer's head loss compares with)."""
        comp = self.compressed(self.spectrum(self._pad(wave)))
        frames = self._frames(comp)
        gain_codes = self.gain_codes(self.gain_db(frames))
        gain = self.gain_values(gain_codes)
        shape = frames / (10 ** (gain / 20)).unsqueeze(1)
        if self.cfg.encoder_input == "magnitude":       # [B, bins * 4, T]: |re + j im| per bin and STFT frame
            half = shape.shape[1] // 2
            shape = torch.sqrt(shape[:, :half] ** 2 + shape[:, half:] ** 2 + 1e-12)
        return self.encoder(torch.cat([shape, self._gain_channel(gain)], 1)), gain_codes, gain, comp

    def _head(self, out: torch.Tensor) -> torch.Tensor:
        """Decoder output [B, 2 * bins * 4, T] -> the compressed complex shape as real channels
        (real parts, then imaginary parts, as :meth:`_frames` lays them out)."""
        if self.cfg.head == "complex":
            return out
        b, _, t = out.shape
        log_mag, phase = out.reshape(b, 2, -1, t).unbind(1)
        mag = torch.exp(log_mag.clamp(max=6.0))      # a unit-RMS shape never needs e^6
        return torch.cat([mag * torch.cos(phase), mag * torch.sin(phase)], 1)

    # --- the phase vocoder head -----------------------------------------------------------------

    def _stft_frames(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 4, bins, T] (per codec frame, its 4 STFT frames) -> [B, bins, 4T] in STFT-frame order."""
        b, j, f, t = x.shape
        return x.permute(0, 2, 3, 1).reshape(b, f, t * j)

    def _bin_advance(self, k: int, device: torch.device) -> torch.Tensor:
        """The phase a steady sinusoid at each bin's centre frequency has after k STFT hops,
        [bins, k] in [0, 2 pi), computed in integers so that it stays exact over long clips."""
        cfg = self.cfg
        cycles = (torch.arange(cfg.bins, device=device)[:, None] * torch.arange(k, device=device)[None] * cfg.stft_hop) % cfg.window
        return 2 * torch.pi * cycles.float() / cfg.window

    def _vocoder(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder output [B, 3 * 4 * bins, T] -> (compressed unit-gain spectrum [B, bins, 4T],
        its magnitude M, the predicted phase steps v [B, bins, 4T] complex).

        v is the phase advance of each bin since the previous STFT frame, beyond the advance of a
        sinusoid at the bin's centre, as a 2-vector trained towards the true one (unit length): on
        a steady partial it is sure (|v| near 1); on noise the true step is random and v shrinks
        towards 0. A bin's value is M (c e^{j phi} + (1 - c) z), with c = min(|v|, 1), phi the running
        sum of the steps (a phase vocoder: causal, nothing about the phase is coded) and z complex
        Gaussian noise of mean magnitude 1: sure bins continue coherently, unsure ones are noise
        with the speckle of real noise around the predicted magnitude. The steps are not trained by
        the waveform losses (a change at frame k would move every later phase), only by their own
        loss (:meth:`head_loss`)."""
        cfg = self.cfg
        b, _, t = out.shape
        x = out[:, : self.spec_ch * 3 // 2].reshape(b, 3, cfg.frames_per_token, cfg.bins, t)
        mag = self._stft_frames(F.softplus(x[:, 0]))
        v = torch.complex(self._stft_frames(x[:, 1]), self._stft_frames(x[:, 2]))
        k = mag.shape[-1]
        if self.training:
            z = torch.randn(b, cfg.bins, k, dtype=torch.cfloat, device=out.device)
        else:
            z = self.noise_table[:, torch.arange(k, device=out.device) % PHASE_TABLE_FRAMES].expand(b, -1, -1)
        sure = v.detach()
        c = sure.abs().clamp(max=1.0)
        phase = torch.remainder(torch.cumsum(torch.angle(sure), -1), 2 * torch.pi) + self._bin_advance(k, out.device)
        unit = c * torch.polar(torch.ones_like(phase), phase) + (1 - c) * z / RAYLEIGH_MEAN
        return mag * unit, mag, v

    def head_loss(self, comp: torch.Tensor, gain: torch.Tensor, mag: torch.Tensor, v: torch.Tensor,
                  mel_weight: float = 0.0) -> torch.Tensor:
        """The vocoder head's own loss: MSE of the predicted compressed magnitude ``mag`` against the
        target's (both divided by the frame's coded gain, as the decoder predicts them) plus the
        target-magnitude-weighted squared error of the phase steps ``v`` against the true unit steps,
        plus ``mel_weight`` x the log-mel L1 of the predicted power spectrum (see :meth:`mel_loss`).
        comp: the target's compressed spectrum [B, bins, 4T]; gain: coded dB [B, T]; mag, v: from
        :meth:`_vocoder`, [B, bins, 4T]."""
        gain_lin = self._stft_gain(gain)
        target = comp / gain_lin
        t_mag = target.abs()
        mag_loss = F.mse_loss(mag, t_mag)
        if_loss = (t_mag[..., 1:] * (v[..., 1:] - self.phase_steps(target)).abs().pow(2)).mean()
        loss = 0.5 * mag_loss + 0.5 * if_loss
        if mel_weight:
            loss = loss + mel_weight * self.mel_loss(mag * gain_lin, comp.abs())
        return loss

    def mel_loss(self, mag: torch.Tensor, t_mag: torch.Tensor, floor_db: float = 50.0) -> torch.Tensor:
        """L1 between log-mel power spectra of two compressed magnitudes [B, bins, K] (the
        decoder's prediction, before any phase is put on it, so noise-free), each floored
        ``floor_db`` below the target's loudest mel cell per clip: the quiet bands that a tagger's
        log-mel sees, which an MSE of compressed magnitudes, ruled by the loud bins, neglects."""
        power = lambda m: m.clamp_min(1e-9) ** (2 / self.cfg.compress)
        mx, my = (torch.einsum("bfk,fm->bmk", power(m), self.mel_fbank) for m in (mag, t_mag))
        floor = my.amax((1, 2), keepdim=True).clamp_min(1e-12) * 10 ** (-floor_db / 10)
        return F.l1_loss(torch.log(mx + floor), torch.log(my + floor))

    def phase_steps(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex STFT [B, bins, K] -> each bin's phase advance from frame k-1 to k beyond the
        advance of a sinusoid at the bin's centre, as a unit phasor [B, bins, K - 1] (what the
        vocoder head's v is trained towards)."""
        step = spec[..., 1:] * spec[..., :-1].conj()
        centre = torch.polar(torch.ones(1, device=spec.device), -self._bin_advance(2, spec.device)[:, 1:])   # [bins, 1]
        return step / step.abs().clamp_min(1e-8) * centre

    def _decoder_out(self, latent: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        """Shape latent [B, latent_dim, T] and gain dB [B, T] -> the decoder's raw output [B, C, T]."""
        return self.decoder(torch.cat([latent, self._gain_channel(gain)], 1))

    def _stft_gain(self, gain: torch.Tensor) -> torch.Tensor:
        """Coded gain dB [B, T] -> the linear gain of each STFT frame [B, 1, 4T]."""
        return (10 ** (gain / 20)).repeat_interleave(self.cfg.frames_per_token, -1).unsqueeze(1)

    def _spectrum_to_wave(self, spec: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        """A compressed unit-gain spectrum [B, bins, 4T] and gain dB [B, T] -> waveform [B, 4T * stft_hop]."""
        return self.waveform(self.decompressed(spec * self._stft_gain(gain)))

    def _synthesise(self, out: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        """The decoder's output [B, C, T] and gain dB [B, T] -> waveform [B, T * hop]."""
        if self.cfg.head == "mag_if":
            return self._spectrum_to_wave(self._vocoder(out)[0], gain)
        shape = self._head(out)
        return self.waveform(self.decompressed(self._unframes(shape * (10 ** (gain / 20)).unsqueeze(1))))

    # --- the public calls -------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform [B, T] (16 kHz, in [-1, 1]) -> tokens [B, ceil(T / hop), G] (int64; the gain last)."""
        latent, gain_codes, _, _ = self._analyse(wave)
        return torch.cat([self.quantizer.codes(latent), gain_codes.unsqueeze(-1)], -1)

    @torch.no_grad()
    def frame_values(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform [B, T] -> what each frame's tokens stand for, before quantizing the shape:
        [B, ceil(T / hop), latent_dim + 1], the shape latent then the coded gain in dB. The
        non-autoregressive acoustic decoder regresses these; their nearest codes are :meth:`encode`'s."""
        latent, _, gain, _ = self._analyse(wave)
        return torch.cat([latent.transpose(1, 2), gain.unsqueeze(-1)], -1)

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [B, T_a, G] -> waveform [B, T_a * hop]."""
        check_tokens(tokens, self.cfg)
        gain = self.gain_values(tokens[..., -1])
        return self._synthesise(self._decoder_out(self.quantizer.lookup(tokens[..., :-1]), gain), gain)

    def code_vectors(self) -> torch.Tensor:
        """What each token stands for, [G, K, d]: the shape codebooks, then the gain levels in dB in
        the first column of the last group (zeros beside them), for the acoustic LM's codebook head."""
        shape = self.quantizer.codebook.detach()
        gain = torch.zeros(1, *shape.shape[1:], device=shape.device)
        gain[0, :, 0] = self.gain_values(torch.arange(self.cfg.codebook_size, device=shape.device))
        return torch.cat([shape, gain])

    def forward(self, wave: torch.Tensor, quantize: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (reconstruction [B, T'], codes [B, T_a, G], commitment loss), as
        :meth:`Codec.forward`; ``quantize=False`` leaves the shape latent unquantized (the gain
        is always quantized: it has nothing to learn). :meth:`forward_parts` adds the head's loss."""
        p = self.forward_parts(wave, quantize)
        return p.recon, p.codes, p.commit

    def forward_parts(self, wave: torch.Tensor, quantize: bool = True, head_mel_weight: float = 0.0) -> "CodecPass":
        """The training pass with everything the trainer scores: the reconstruction [B, T'], the
        codes [B, T_a, G], the commitment loss and the head's own loss (the vocoder head's, with
        ``head_mel_weight`` for its log-mel term; zero for the other heads)."""
        latent, gain_codes, gain, comp = self._analyse(wave)
        if quantize:
            latent, shape_codes, commit = self.quantizer(latent)
        else:
            shape_codes, commit = self.quantizer.codes(latent.detach()), latent.new_zeros(())
        out = self._decoder_out(latent, gain)
        codes = torch.cat([shape_codes, gain_codes.unsqueeze(-1)], -1)
        if self.cfg.head != "mag_if":
            return CodecPass(self._synthesise(out, gain), codes, commit, commit.new_zeros(()))
        spec, mag, v = self._vocoder(out)      # once: the waveform and the head's loss share it
        head = self.head_loss(comp, gain, mag, v, head_mel_weight)
        return CodecPass(self._spectrum_to_wave(spec, gain), codes, commit, head)
