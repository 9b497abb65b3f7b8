"""Stage ``codec``: the causal group-VQ neural codec and Table VIII (paper Sec. III-E2).

Trains the codec (multi-resolution spectral + adversarial losses) on all training-split audio,
saves it to data/<profile>/models/codec and compares it with Opus at the same bitrate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.audio import fbank
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.eval.codec_eval import codec_roundtrip, evaluate_codecs, write_table8
from hsm_lib.eval.opus import opus_roundtrip
from hsm_lib.features import corpus_waves, to_float
from hsm_lib.models.codec import Codec, CodecConfig
from hsm_lib.models.codec_losses import DiscriminatorConfig, MultiScaleMelDiscriminator
from hsm_lib.stages.common import moving_average, n_parameters, saved, window
from hsm_lib.train.codec import CodecTrainConfig, fit_codec

OURS = "ours (causal group-VQ codec)"


@dataclass
class CodecResult:
    """What the codec notebook shows."""

    codec: Codec
    history: dict[str, list[float]]
    table8: str                        # Table VIII analog, Markdown
    test: np.ndarray                   # the first held-out clips [2, L], float32
    reconstructions: dict[str, np.ndarray]  # system -> its round trip of ``test`` [2, L]
    loss_figure: Figure
    spectrograms_figure: Figure


def run(profile: str, params: dict | None = None, progress: bool = True) -> CodecResult:
    """Train the codec, save it, write Table VIII and the loss and spectrogram figures."""
    P = params if params is not None else profile_section("codec", profile)
    corpus = paths.corpus_dir(profile)
    cfg = CodecConfig(**P["model"])
    train_cfg = CodecTrainConfig.from_params(P["train"])
    torch.manual_seed(train_cfg.seed)
    codec = Codec(cfg)
    disc = MultiScaleMelDiscriminator(DiscriminatorConfig(**P["discriminator"]), cfg.sample_rate)
    print(f"codec: {n_parameters(codec) / 1e6:.2f} M parameters, hop {cfg.hop} ({1000 * cfg.hop / cfg.sample_rate:.0f} ms), "
          f"{cfg.groups} groups x {cfg.codebook_size} codes = {cfg.bits_per_frame} bits/frame -> {cfg.bitrate / 1000:.1f} kbps")
    history = fit_codec(codec, disc, training_waves(corpus), train_cfg, progress=progress,
                        state_dir=paths.resumable_state_dir(profile, "codec", "codec"))
    save_checkpoint(paths.profile_dir(profile) / "models" / "codec", codec, "codec", cfg.to_dict(),
                    {"train": dataclasses.asdict(train_cfg), "bitrate": cfg.bitrate, "history": history})
    loss_fig = saved(plot_loss(history, train_cfg.adversarial_from), "codec_loss")
    test = to_float(np.asarray(corpus_waves(corpus, "test", "clips")[: P["eval_clips"]]))
    systems = codec_systems(codec)
    table8 = codec_table(test, systems, codec, P, profile, progress)
    recon = {name: roundtrip(test[:2]) for name, roundtrip in systems.items()}
    spec_fig = saved(plot_spectrograms(test[:2], recon), "codec_spectrograms")
    return CodecResult(codec, history, table8, test[:2], recon, loss_fig, spec_fig)


def training_waves(corpus: Path) -> np.ndarray:
    """Every training-split clip and training mixture, int16 [N, L]."""
    mixtures = corpus_waves(corpus, "train", "mixtures")
    waves = np.concatenate([np.asarray(corpus_waves(corpus, "train", "clips")),
                            np.round(np.clip(mixtures, -1, 1) * 32767).astype(np.int16)])
    del mixtures
    return waves


def plot_loss(history: dict[str, list[float]], adversarial_from: int) -> Figure:
    """The spectral loss, and the adversarial, feature-matching and discriminator losses."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
    k = window(len(history["step"]), 40)
    steps = history["step"][k - 1:]
    axes[0].plot(steps, moving_average(history["spectral"], k), label="multi-resolution spectral")
    axes[0].set_xlabel("step"); axes[0].legend(); axes[0].set_title(f"reconstruction (mean of {k} steps)")
    for name in ("adv", "fm", "disc"):
        axes[1].plot(steps, moving_average(history[name], k), label=name)
    axes[1].axvline(adversarial_from, color="grey", ls=":", label="discriminator joins")
    axes[1].set_xlabel("step"); axes[1].legend(); axes[1].set_title("adversarial training")
    fig.tight_layout()
    return fig


def codec_systems(codec: Codec) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """System name -> round trip [N, L] -> [N, L]: our codec and Opus at its bitrate."""
    kbps = codec.cfg.bitrate / 1000
    return {OURS: codec_roundtrip(codec),
            f"Opus {kbps:g} kbps (opus-tools)": lambda w: np.stack([opus_roundtrip(x, kbps) for x in w])}


def codec_table(test: np.ndarray, systems: dict[str, Callable[[np.ndarray], np.ndarray]], codec: Codec,
                P: dict, profile: str, progress: bool) -> str:
    """Table VIII analog on the held-out clips ``test`` [N, L]; written, and returned as Markdown."""
    kbps = codec.cfg.bitrate / 1000
    scores = evaluate_codecs(test, systems, visqol_clips=P["visqol_clips"], progress=progress)
    meta = {OURS: {"bitrate_kbps": kbps, "params": f"{n_parameters(codec) / 1e6:.2f}M", "causal": "yes"},
            f"Opus {kbps:g} kbps (opus-tools)": {"bitrate_kbps": kbps, "params": "n/a (DSP)",
                                                 "causal": "yes (20 ms frames + look-ahead)"}}
    write_table8(scores, meta, profile, len(test), P["visqol_clips"])
    return (paths.reports_dir() / "table8_codec.md").read_text()


def plot_spectrograms(test: np.ndarray, recon: dict[str, np.ndarray]) -> Figure:
    """Log-mel of each clip of ``test`` [N, L] beside each system's reconstruction of it."""
    fig, axes = plt.subplots(len(test), 1 + len(recon), figsize=(14, 5.5), squeeze=False)
    for i in range(len(test)):
        for j, (title, wave) in enumerate([("original", test[i])] + [(n, r[i]) for n, r in recon.items()]):
            n_frames = (len(wave) - 400) // 160 + 1
            axes[i, j].imshow(fbank(wave, n_frames).T.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-15, vmax=5)
            axes[i, j].set_title(f"clip {i}: {title}", fontsize=9)
    fig.tight_layout()
    return fig
