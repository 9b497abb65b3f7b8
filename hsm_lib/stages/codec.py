"""Stage ``codec``: the causal 6 kbps neural codec and Table VIII (paper Sec. III-E2).

Trains the codec that params.yaml's ``codec.kind`` names (``stft_codec``: the STFT-domain
gain-shape codec after TF-Codec; ``codec``: the waveform codec of strided convolutions) on all
training-split audio, saves it to data/<profile>/models/codec and compares it with Opus at the
same bitrate.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import ConfigError, check_keys, profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval.calibration import calibration_for
from hsm_lib.eval.codec_eval import codec_roundtrip, evaluate_codecs, write_table8
from hsm_lib.eval.codec_listening import HEADERS, mean_ci_cells, tagger_scores
from hsm_lib.eval.opus import opus_roundtrip
from hsm_lib.eval.tagger import default_tagger
from hsm_lib.features import QuantisedMixtures, StackedRows, corpus_waves, to_float
from hsm_lib.models.codec import Codec
from hsm_lib.models.codec_losses import DiscriminatorConfig, MultiScaleMelDiscriminator
from hsm_lib.models.stft_codec import STFTCodec
from hsm_lib.registry import KINDS, build_model
from hsm_lib.reporting import write_table
from hsm_lib.stages.common import moving_average, n_parameters, saved, window
from hsm_lib.stages.listening import spectrogram_grid
from hsm_lib.train.codec import CodecTrainConfig, fit_codec

CODEC_KINDS = ("stft_codec", "codec")
OURS = {"stft_codec": "ours (causal STFT gain-shape codec)", "codec": "ours (causal waveform group-VQ codec)"}


@dataclass
class CodecResult:
    """What the codec notebook shows."""

    codec: Codec | STFTCodec
    history: dict[str, list[float]]
    table8: str                        # Table VIII analog, Markdown
    listening: str                     # codec_ablation: the tagger's view, ablation and calibration rows, Markdown
    test: np.ndarray                   # the first held-out clips [2, L], float32
    reconstructions: dict[str, np.ndarray]  # system -> its round trip of ``test`` [2, L]
    loss_figure: Figure
    spectrograms_figure: Figure


def run(profile: str, params: dict | None = None, progress: bool = True) -> CodecResult:
    """Train the codec, save it, write Table VIII and the loss and spectrogram figures."""
    P = params if params is not None else profile_section("codec", profile)
    corpus = paths.corpus_dir(profile)
    kind = P["kind"]
    train_cfg = CodecTrainConfig.from_params(P["train"])
    torch.manual_seed(train_cfg.seed)
    codec = new_codec(kind, P["model"])
    cfg = codec.cfg
    disc = MultiScaleMelDiscriminator(DiscriminatorConfig(**P["discriminator"]), cfg.sample_rate)
    print(f"codec: {n_parameters(codec) / 1e6:.2f} M parameters, hop {cfg.hop} ({1000 * cfg.hop / cfg.sample_rate:.0f} ms), "
          f"{cfg.groups} groups x {cfg.codebook_size} codes = {cfg.bits_per_frame} bits/frame -> {cfg.bitrate / 1000:.1f} kbps")
    waves = training_waves(corpus)
    start = time.perf_counter()
    history = fit_codec(codec, disc, waves, train_cfg, progress=progress,
                        state_dir=paths.resumable_state_dir(profile, "codec", "codec"))
    train_seconds = round(time.perf_counter() - start, 1)
    save_checkpoint(paths.profile_dir(profile) / "models" / "codec", codec, kind, cfg.to_dict(),
                    {"train": train_cfg.to_dict(), "bitrate": cfg.bitrate, "history": history})
    loss_fig = saved(plot_loss(history, train_cfg), "codec_loss")
    test = to_float(np.asarray(corpus_waves(corpus, "test", "clips")[: P["eval_clips"]]))
    systems = codec_systems(codec)
    table8 = codec_table(test, systems, codec, P, profile, progress)
    recon = {name: roundtrip(test[:2]) for name, roundtrip in systems.items()}
    spec_fig = saved(spectrogram_grid({"original": test[:2], **recon}), "codec_spectrograms")
    listening = listening_table(codec, train_cfg, train_seconds, waves, corpus, P, profile, progress)
    return CodecResult(codec, history, table8, listening, test[:2], recon, loss_fig, spec_fig)


def listening_table(codec: Codec | STFTCodec, train_cfg: CodecTrainConfig, train_seconds: float, waves: np.ndarray,
                    corpus: Path, P: dict, profile: str, progress: bool) -> str:
    """``reports/codec_ablation``: how the tagger hears our codec's resynthesis of the mixed test
    set's targets, beside each ablation variant (trained from scratch for a time about equal to
    each other's) and the calibration rows of the same clips. Returns the Markdown."""
    A = P["ablation"]
    check_keys(A, {"clips", "variants"}, "codec.ablation")
    mixed = TripletSet(corpus / "testsets", "mixed")
    items = [mixed[i] for i in range(min(A["clips"], len(mixed)))]
    targets = np.stack([it["target"] for it in items]).astype(np.float32)
    tagger = default_tagger()
    target_tags = tagger(targets)
    rows, scores = [], {}

    def add(name: str, steps: object, seconds: object, outputs: np.ndarray) -> None:
        scores[name] = tagger_scores(outputs, targets, tagger, target_tags)
        rows.append([name, steps, seconds, *mean_ci_cells(scores[name])])

    for name, variant in A["variants"].items():
        check_keys(variant, {"kind", "model", "train"}, f"codec.ablation.variants.{name}")
        v_cfg = CodecTrainConfig.from_params({**P["train"], **variant.get("train", {})})
        torch.manual_seed(v_cfg.seed)
        v_codec = new_codec(variant["kind"], variant["model"])
        disc = MultiScaleMelDiscriminator(DiscriminatorConfig(**P["discriminator"]), v_codec.cfg.sample_rate)
        start = time.perf_counter()
        fit_codec(v_codec, disc, waves, v_cfg, progress=progress,
                  state_dir=paths.resumable_state_dir(profile, "codec", f"ablation_{name}"))
        seconds = time.perf_counter() - start
        add(f"ablation: {name} ({n_parameters(v_codec) / 1e6:.2f}M)", v_cfg.steps, round(seconds, 1),
            codec_roundtrip(v_codec.eval())(targets))
    add(f"{ours(codec)}, as trained by this stage ({n_parameters(codec) / 1e6:.2f}M)", train_cfg.steps, train_seconds,
        codec_roundtrip(codec)(targets))
    for name, outputs in calibration_for(items).items():
        add(name, "-", "-", outputs)
    write_table("codec_ablation", f"How the tagger hears the codec: resynthesis of the mixed test set's targets ({profile} profile)",
                ["system", "training steps", "training s (this run)", *HEADERS], rows,
                notes=[f"{len(targets)} targets of the mixed test set; mean [95 % bootstrap confidence interval over "
                       "clips]. KL and cosine: the aisfx tagger (UCS head), as in Tables II-III.",
                       ("Ablation rows train from scratch on the same audio for step counts chosen to take about the same "
                        "time on 2 cores; their measured seconds are in the table. The stage's own codec trains longer."
                        if A["variants"] else
                        "No ablation variants in this profile (params.yaml codec.ablation.variants); the cpu profile's "
                        "design ablation, as last measured by this stage, is quoted in params.yaml beside codec.kind."),
                       "Calibration rows are built from the same clips: they say what a number means."],
                data={"profile": profile, "clips": len(targets),
                      "per_clip": {k: {m: v.tolist() for m, v in d.items()} for k, d in scores.items()}})
    return (paths.reports_dir() / "codec_ablation.md").read_text()


def new_codec(kind: str, model: dict) -> Codec | STFTCodec:
    """A freshly initialised codec of ``kind`` ("stft_codec" or "codec") from params' ``model``."""
    if kind not in CODEC_KINDS:
        raise ConfigError(f"params.yaml codec.kind must be one of {', '.join(CODEC_KINDS)}, got {kind!r}")
    check_keys(model, {f.name for f in dataclasses.fields(KINDS[kind][1])}, "codec.model")
    return build_model(kind, model)


def training_waves(corpus: Path) -> StackedRows:
    """Every training-split clip and training mixture, int16 [N, L], read a row at a time."""
    return StackedRows(corpus_waves(corpus, "train", "clips"), QuantisedMixtures(TripletSet(corpus / "triplets", "train").audio))


LOSS_NAMES = {"multires": "multi-resolution spectral", "compressed": "compressed spectrum + log-mel"}


def plot_loss(history: dict[str, list[float]], train_cfg: CodecTrainConfig) -> Figure:
    """The reconstruction loss, and the adversarial, feature-matching and discriminator losses."""
    adversarial_from = train_cfg.adversarial_from
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
    k = window(len(history["step"]), 40)
    steps = history["step"][k - 1:]
    axes[0].plot(steps, moving_average(history["spectral"], k), label=LOSS_NAMES[train_cfg.loss])
    axes[0].set_xlabel("step"); axes[0].legend(); axes[0].set_title(f"reconstruction (mean of {k} steps)")
    if adversarial_from < train_cfg.steps:
        for name in ("adv", "fm", "disc"):
            axes[1].plot(steps, moving_average(history[name], k), label=name)
        axes[1].axvline(adversarial_from, color="grey", ls=":", label="discriminator joins")
        axes[1].set_title("adversarial training")
    else:  # no GAN in this profile: show the quantizer's commitment loss instead
        axes[1].plot(steps, moving_average(history["commit"], k), label="VQ commitment")
        axes[1].axvline(train_cfg.quantizer_warmup, color="grey", ls=":", label="quantizer joins")
        axes[1].set_title("no adversarial training: the quantizer")
    axes[1].set_xlabel("step"); axes[1].legend()
    fig.tight_layout()
    return fig


def ours(codec: Codec | STFTCodec) -> str:
    """The codec's row name in the tables."""
    return OURS["stft_codec" if isinstance(codec, STFTCodec) else "codec"]


def codec_systems(codec: Codec | STFTCodec) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """System name -> round trip [N, L] -> [N, L]: our codec and Opus at its bitrate."""
    kbps = codec.cfg.bitrate / 1000
    return {ours(codec): codec_roundtrip(codec),
            f"Opus {kbps:g} kbps (opus-tools)": lambda w: np.stack([opus_roundtrip(x, kbps) for x in w])}


def codec_table(test: np.ndarray, systems: dict[str, Callable[[np.ndarray], np.ndarray]], codec: Codec | STFTCodec,
                P: dict, profile: str, progress: bool) -> str:
    """Table VIII analog on the held-out clips ``test`` [N, L]; written, and returned as Markdown."""
    kbps = codec.cfg.bitrate / 1000
    scores = evaluate_codecs(test, systems, visqol_clips=P["visqol_clips"], progress=progress)
    meta = {ours(codec): {"bitrate_kbps": kbps, "params": f"{n_parameters(codec) / 1e6:.2f}M", "causal": "yes"},
            f"Opus {kbps:g} kbps (opus-tools)": {"bitrate_kbps": kbps, "params": "n/a (DSP)",
                                                 "causal": "yes (20 ms frames + look-ahead)"}}
    write_table8(scores, meta, profile, len(test), P["visqol_clips"])
    return (paths.reports_dir() / "table8_codec.md").read_text()
