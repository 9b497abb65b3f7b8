"""Training the codec: spectral reconstruction + commitment, then adversarial training with the
multi-scale mel discriminator and feature matching (paper Sec. III-E2, IV-A3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.models.codec import Codec
from hsm_lib.models.codec_losses import (MultiResolutionSpectralLoss, MultiScaleMelDiscriminator, discriminator_loss,
                                         feature_matching_loss, generator_adversarial_loss)
from hsm_lib.train.common import FromParams, resolve_device, seed_everything, warmup_cosine


@dataclass
class CodecTrainConfig(FromParams):
    steps: int = 1000
    batch_size: int = 16
    segment_seconds: float = 3.0   # the paper crops 3-second segments
    lr: float = 3e-4
    lr_disc: float = 3e-4
    adversarial_from: int = 0      # step at which the discriminator joins (0: from the start)
    # Steps trained as a plain autoencoder before the quantizer switches on and its codebooks
    # initialise from the encoder's outputs. Quantizing an untrained encoder's tiny latents
    # from step 0 stalled learning (spectral loss flat over 100 steps at the cpu size, against
    # 4.9 -> 3.7 with a 40-step warm-up); not in the paper, our choice.
    quantizer_warmup: int = 0
    spectral_weight: float = 15.0
    adversarial_weight: float = 1.0
    feature_matching_weight: float = 2.0
    warmup_steps: int = 50
    seed: int = 0
    device: str = "auto"


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


def fit_codec(codec: Codec, disc: MultiScaleMelDiscriminator, waves: np.ndarray, cfg: CodecTrainConfig,
              progress: bool = True) -> dict[str, list[float]]:
    """Train ``codec`` and ``disc`` in place on random segments of ``waves`` [N, L] (no text).

    Returns history: "step", "spectral", "commit", "adv", "fm", "disc" per step.
    """
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    codec.to(device).train()
    disc.to(device).train()
    spectral = MultiResolutionSpectralLoss(codec.cfg.sample_rate).to(device)
    opt_g = torch.optim.AdamW(codec.parameters(), lr=cfg.lr, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.lr_disc, betas=(0.8, 0.99))
    sched_g, sched_d = warmup_cosine(opt_g, cfg.warmup_steps, cfg.steps), warmup_cosine(opt_d, cfg.warmup_steps, cfg.steps)
    length = int(round(cfg.segment_seconds * codec.cfg.sample_rate)) // codec.cfg.hop * codec.cfg.hop
    hist: dict[str, list[float]] = {k: [] for k in ("step", "spectral", "commit", "adv", "fm", "disc")}
    for step in tqdm(range(1, cfg.steps + 1), desc="codec", disable=not progress):
        real = random_segments(waves, cfg.batch_size, length, rng).to(device)
        fake, _, commit = codec(real, quantize=step > cfg.quantizer_warmup)
        spec = spectral(fake, real)
        adv_on = step > cfg.adversarial_from
        d_loss = adv = fm = real.new_zeros(())
        if adv_on:  # discriminator step on detached decoded audio
            d_loss = discriminator_loss(disc(real), disc(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            real_out, fake_out = disc(real), disc(fake)
            adv, fm = generator_adversarial_loss(fake_out), feature_matching_loss(real_out, fake_out)
        g_loss = cfg.spectral_weight * spec + commit + cfg.adversarial_weight * adv + cfg.feature_matching_weight * fm
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), 10.0)
        opt_g.step()
        sched_g.step()
        if adv_on:
            sched_d.step()
        hist["step"].append(step)
        for k, v in (("spectral", spec), ("commit", commit), ("adv", adv), ("fm", fm), ("disc", d_loss)):
            hist[k].append(float(v.detach()))
    codec.eval()
    disc.eval()
    return hist
