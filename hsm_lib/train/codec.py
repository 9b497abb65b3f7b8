"""Training the codec: spectral reconstruction + commitment, then adversarial training with the
multi-scale mel discriminator and feature matching (paper Sec. III-E2, IV-A3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hsm_lib.models.codec import Codec
from hsm_lib.models.stft_codec import STFTCodec
from hsm_lib.config import ConfigError
from hsm_lib.models.codec_losses import (CompressedSpectralLoss, MultiResolutionSpectralLoss, MultiScaleMelDiscriminator,
                                         discriminator_loss, feature_matching_loss, generator_adversarial_loss)
from hsm_lib.train.common import warmup_cosine
from hsm_lib.train.loop import Trainer, TrainConfig, adamw


@dataclass
class CodecTrainConfig(TrainConfig):
    segment_seconds: float = 3.0   # the paper crops 3-second segments
    weight_decay: float = 0.01     # torch's AdamW default, on every parameter (HiFi-GAN-style betas)
    betas: tuple[float, float] = (0.8, 0.99)
    decay_all_params: bool = True
    grad_clip: float | None = 10.0
    lr_disc: float = 3e-4
    adversarial_from: int = 0      # step at which the discriminator joins (0: from the start)
    # Steps trained as a plain autoencoder before the quantizer switches on and its codebooks
    # initialise from the encoder's outputs. Quantizing an untrained encoder's tiny latents
    # from step 0 stalled learning (spectral loss flat over 100 steps at the cpu size, against
    # 4.9 -> 3.7 with a 40-step warm-up); not in the paper, our choice.
    quantizer_warmup: int = 0
    # The reconstruction loss: "multires" (spectral convergence + log-STFT + log-mel L1 over 4
    # resolutions) or "compressed" (TF-Codec's compressed-magnitude and complex MSE + log-mel L1,
    # per STFT frame normalised when frame_normalised).
    loss: str = "multires"
    frame_normalised: bool = True
    mel_weight: float = 0.25          # the compressed loss's log-mel L1 weight (TF-Codec: 0.25)
    complex_weight: float = 0.5       # the compressed loss's complex-spectrum MSE weight (TF-Codec: 0.5)
    mel_floor_db: float | None = None  # the compressed loss's log-mel floor, dB below the loudest cell (None: 1e-7)
    head_mel_weight: float = 0.0       # the vocoder head's log-mel L1 on its predicted (phase-free) magnitude
    spectral_weight: float = 15.0
    adversarial_weight: float = 1.0
    feature_matching_weight: float = 2.0


LOSSES = ("multires", "compressed")


def reconstruction_loss(cfg: CodecTrainConfig, sample_rate: int) -> torch.nn.Module:
    """The configured reconstruction loss module (estimate, reference) -> scalar."""
    if cfg.loss == "multires":
        return MultiResolutionSpectralLoss(sample_rate)
    if cfg.loss == "compressed":
        return CompressedSpectralLoss(sample_rate, mel_weight=cfg.mel_weight, complex_weight=cfg.complex_weight,
                                      frame_normalised=cfg.frame_normalised, mel_floor_db=cfg.mel_floor_db)
    raise ConfigError(f"codec train.loss must be one of {', '.join(LOSSES)}, got {cfg.loss!r}")


def random_segments(waves: np.ndarray, n: int, length: int, rng: np.random.Generator, min_rms: float = 1e-3) -> torch.Tensor:
    """``n`` random crops of ``length`` samples from [N, L] stored audio (int16 or float),
    skipping near-silent crops where possible. -> [n, length] float32."""
    out = np.empty((n, length), dtype=np.float32)
    for i in range(n):
        for _ in range(10):
            j = int(rng.integers(len(waves)))
            start = int(rng.integers(0, max(1, waves.shape[1] - length + 1)))
            seg = np.asarray(waves[j, start:start + length])
            seg = seg.astype(np.float32) / 32768.0 if seg.dtype == np.int16 else seg.astype(np.float32)
            if np.sqrt(np.mean(seg ** 2)) >= min_rms:
                break
        out[i, : len(seg)] = seg
        out[i, len(seg):] = 0.0
    return torch.from_numpy(out)


def fit_codec(codec: Codec | STFTCodec, disc: MultiScaleMelDiscriminator, waves: np.ndarray, cfg: CodecTrainConfig,
              progress: bool = True, state_dir: str | Path | None = None) -> dict[str, list[float]]:
    """Train ``codec`` and ``disc`` in place on random segments of ``waves`` [N, L] (no text).

    The loop's optimizer trains the codec; the discriminator's own optimizer steps inside the
    step function (on detached decoded audio) and is saved with the run for resuming.
    Returns history: "step", "spectral", "commit", "adv", "fm", "disc" per step.
    """
    run = Trainer(cfg, [codec], state_dir=state_dir, desc="codec", progress=progress)
    disc.to(run.device).train()
    opt_d = adamw([disc], cfg.lr_disc, cfg.weight_decay, cfg.betas, cfg.decay_all_params)
    sched_d = warmup_cosine(opt_d, cfg.warmup_steps, cfg.steps)
    run.extra_state.update({"discriminator": disc, "disc_optimizer": opt_d, "disc_scheduler": sched_d})
    spectral = reconstruction_loss(cfg, codec.cfg.sample_rate).to(run.device)
    length = int(round(cfg.segment_seconds * codec.cfg.sample_rate)) // codec.cfg.hop * codec.cfg.hop

    def step(step: int, _):
        real = random_segments(waves, cfg.batch_size, length, run.rng).to(run.device)
        if isinstance(codec, STFTCodec):   # with its head's own loss (the vocoder head's)
            p = codec.forward_parts(real, quantize=step > cfg.quantizer_warmup, head_mel_weight=cfg.head_mel_weight)
            fake, commit = p.recon, p.commit
            spec = spectral(fake, real) + p.head_loss
        else:
            fake, _, commit = codec(real, quantize=step > cfg.quantizer_warmup)
            spec = spectral(fake, real)
        d_loss = adv = fm = real.new_zeros(())
        if step > cfg.adversarial_from:  # discriminator step on detached decoded audio, then the generator's terms
            d_loss = discriminator_loss(disc(real), disc(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            sched_d.step()
            real_out, fake_out = disc(real), disc(fake)
            adv, fm = generator_adversarial_loss(fake_out), feature_matching_loss(real_out, fake_out)
        g_loss = cfg.spectral_weight * spec + commit + cfg.adversarial_weight * adv + cfg.feature_matching_weight * fm
        logs = {k: float(v.detach()) for k, v in (("spectral", spec), ("commit", commit), ("adv", adv), ("fm", fm), ("disc", d_loss))}
        return g_loss, logs

    history = run.fit(step)
    disc.eval()
    return history
