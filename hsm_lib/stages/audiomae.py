"""Stage ``audiomae``: AudioMAE pretraining and the Table VII linear probes (paper Sec. III-B1).

Pretrains the masked autoencoder on all training-split audio, saves it to
data/<profile>/models/audiomae, draws the loss and reconstructions, and writes Table VII.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.data.build import DataConfig
from hsm_lib.eval import probes as pr
from hsm_lib.features import corpus_fbanks, export_shared_features, fbank_stats
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.stages.common import n_parameters, plot_smoothed, saved, window
from hsm_lib.train.audiomae import MAETrainConfig, fit_audiomae


@dataclass
class AudioMAEResult:
    """What the AudioMAE notebook shows."""

    model: AudioMAE
    model_cfg: AudioMAEConfig
    train_cfg: MAETrainConfig
    history: dict[str, list[float]]
    S_shape: tuple[int, ...]           # S of one test clip: [1, (T/P)*(F/P), C_s]
    probe_sets: list[pr.ProbeSet]
    table7: str                        # Table VII analog, Markdown
    loss_figure: Figure
    reconstructions_figure: Figure


def run(profile: str, params: dict | None = None, progress: bool = True) -> AudioMAEResult:
    """Pretrain AudioMAE, save it, and write its figures and Table VII."""
    P = params if params is not None else profile_section("audiomae", profile)
    data_cfg = DataConfig.from_params(profile_section("data", profile))
    corpus = paths.corpus_dir(profile)
    model_cfg = AudioMAEConfig(n_frames=data_cfg.fbank_frames, **P["model"])
    train_cfg = MAETrainConfig.from_params(P["train"])
    torch.manual_seed(train_cfg.seed)
    model = AudioMAE(model_cfg)
    print(f"AudioMAE: {n_parameters(model) / 1e6:.2f} M parameters, {model_cfg.n_patches} patches "
          f"({model_cfg.grid[0]} time x {model_cfg.grid[1]} frequency), mask {model_cfg.mask_ratio}")
    history = pretrain(model, corpus, P, train_cfg, progress, paths.resumable_state_dir(profile, "audiomae", "audiomae"))
    out_dir = paths.profile_dir(profile) / "models" / "audiomae"
    save_checkpoint(out_dir, model, "audiomae", model_cfg.to_dict(),
                    {"train": train_cfg.to_dict(), "train_on": P["train_on"], "history": history,
                     "fbank_stats": dict(zip(("mean", "std"), fbank_stats(corpus)))})
    print(f"final validation loss {history['val_loss'][-1]:.3f} (first {history['val_loss'][0]:.3f}); saved {out_dir}")
    shapes = export_shared_features(model, corpus, paths.features_dir(profile), export=P["export_features"], progress=progress)
    print(f"S of the sets later stages share: {shapes or 'none (export_features: false)'}")
    loss_fig = saved(plot_loss(history), "audiomae_loss")
    test = corpus_fbanks(corpus, "test", ("clips",), model_cfg.n_frames, limit=3).float()
    rec_fig = saved(plot_reconstructions(model, test), "audiomae_reconstructions")
    with torch.no_grad():
        S = model.features(test[:1])
    probe_sets = make_probes(corpus, data_cfg, P["probes"])
    table7 = linear_probes(model, probe_sets, corpus, model_cfg, train_cfg, profile, progress,
                           random_init_seeds=P["probes"]["random_init_seeds"])
    return AudioMAEResult(model, model_cfg, train_cfg, history, tuple(S.shape), probe_sets, table7, loss_fig, rec_fig)


def pretrain(model: AudioMAE, corpus: Path, P: dict[str, Any], train_cfg: MAETrainConfig,
             progress: bool, state_dir: Path | None = None) -> dict[str, list[float]]:
    """Fit on every training-split clip and mixture (normalised fbanks [N, T, F]: held as float16,
    or computed per batch where ``P["cache_fbanks"]`` is false), validating on ``P["val_clips"]``
    validation clips; resumes from ``state_dir`` if a killed run left a state there."""
    n_frames, cache = model.cfg.n_frames, P["cache_fbanks"]
    train = corpus_fbanks(corpus, "train", tuple(P["train_on"]), n_frames, progress=progress, cache=cache)
    val = corpus_fbanks(corpus, "val", ("clips",), n_frames, limit=P["val_clips"], cache=cache)
    if cache:
        print(f"train {tuple(train.shape)}, val {tuple(val.shape)} ({train.element_size() * train.numel() / 1e6:.0f} MB as float16)")
    else:
        print(f"train {len(train)} x {n_frames} x 128, val {len(val)}: fbanks computed per batch")
    return fit_audiomae(model, train, val, train_cfg, progress=progress, state_dir=state_dir)


def plot_loss(history: dict[str, list[float]]) -> Figure:
    """Training loss (smoothed) and validation loss (fixed masks) against the step."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    k = window(len(history["loss"]), 50)
    plot_smoothed(ax, history, "loss", k, label=f"train (mean of {k} steps)")
    ax.plot(history["val_step"], history["val_loss"], "o-", label="validation (fixed masks)")
    ax.set_xlabel("step"); ax.set_ylabel("MSE on hidden patches (normalised pixels)"); ax.legend(); ax.set_title("AudioMAE pretraining")
    return fig


def plot_reconstructions(model: AudioMAE, test: torch.Tensor) -> Figure:
    """Input, masked input and reconstruction of each clip of ``test`` [B, T, F] (masks drawn with seed 0)."""
    rec = model.reconstruct(test, generator=torch.Generator().manual_seed(0))
    fig, axes = plt.subplots(len(test), 3, figsize=(13, 2.6 * len(test)), squeeze=False)
    for i in range(len(test)):
        for j, key in enumerate(("input", "masked", "reconstruction")):
            ax = axes[i, j]
            ax.imshow(rec[key][i].T.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-1.5, vmax=1.5)
            hidden = f" ({model.cfg.mask_ratio:.0%} hidden)" if key == "masked" else ""
            ax.set_title(f"test clip {i}: {key}" + hidden, fontsize=9)
            ax.set_xlabel("frame"); ax.set_ylabel("mel bin")
    fig.tight_layout()
    return fig


def make_probes(corpus: Path, data_cfg: DataConfig, Q: dict[str, Any]) -> list[pr.ProbeSet]:
    """The three probes: sound class, spoken word, pitch class (``Q``: the section's ``probes``)."""
    clip_seconds = data_cfg.clip_seconds
    words = tuple(Q["words"]) if Q.get("words") else None
    return [
        pr.sound_class_probe(corpus, data_cfg, clip_seconds, min_train=Q["min_train"], min_test=Q["min_test"],
                             max_per_class=Q["max_per_class"], seed=data_cfg.seed),
        pr.spoken_word_probe(clip_seconds, n_voices=Q["voices"], words=words, seed=data_cfg.seed),
        pr.pitch_class_probe(clip_seconds, n_notes=Q["notes"], seed=data_cfg.seed),
    ]


def probes_markdown(probe_sets: list[pr.ProbeSet]) -> str:
    """One bullet per probe: classes, train/test sizes and what it is."""
    return "\n".join(f"- **{p.name}**: {len(p.classes)} classes, {len(p.train_labels)} train / {len(p.test_labels)} test — {p.note}"
                     for p in probe_sets)


def linear_probes(model: AudioMAE, probe_sets: list[pr.ProbeSet], corpus: Path, model_cfg: AudioMAEConfig,
                  train_cfg: MAETrainConfig, profile: str, progress: bool, random_init_seeds: int = 1) -> str:
    """Probe the pretrained encoder, the same encoder at ``random_init_seeds`` random
    initialisations (one row: their mean) and the mean log-mel; write Table VII and return it as
    Markdown."""
    if random_init_seeds < 1:
        raise ValueError(f"random_init_seeds must be >= 1, got {random_init_seeds}")
    mean, std = fbank_stats(corpus)
    extractors = {"AudioMAE, pretrained (ours)": pr.audiomae_extractor(model)}
    random_rows = []
    for seed in range(train_cfg.seed + 1, train_cfg.seed + 1 + random_init_seeds):
        torch.manual_seed(seed)
        random_rows.append(f"AudioMAE, random init, seed {seed}")
        extractors[random_rows[-1]] = pr.audiomae_extractor(AudioMAE(model_cfg).eval())
    extractors["mean log-mel"] = pr.logmel_extractor()
    results = pr.run_probes(probe_sets, extractors, model_cfg.n_frames, mean, std, progress=progress)
    name = "AudioMAE, random init" + (f" (mean of {random_init_seeds} seeds)" if random_init_seeds > 1 else "")
    pr.write_table7(results, probe_sets, profile, seed_rows={name: random_rows})
    return (paths.reports_dir() / "table7_linear_probe.md").read_text()
