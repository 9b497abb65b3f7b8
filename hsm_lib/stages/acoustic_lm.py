"""Stage ``acoustic_lm``: the acoustic decoder from S to codec tokens, and the ceilings of the
generative path (paper Sec. III-E1, Eq. 9-10).

``decoder: lm`` is the paper's autoregressive acoustic LM, trained teacher-forced with
cross-entropy on codec tokens; ``decoder: nar`` the non-autoregressive regression decoder that the
cpu profile uses instead (:mod:`hsm_lib.models.acoustic_nar`; params.yaml gives the measurement).
Either trains on the clean training clips (S from the frozen AudioMAE, targets from the frozen
codec), is saved to data/<profile>/models/acoustic_lm, and ``ceilings_acoustic`` is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.audio import FBANK_SHIFT_MS
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import ConfigError, profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval.calibration import calibration_for
from hsm_lib.eval.ceilings import ceilings, write_ceilings
from hsm_lib.eval.tagger import default_tagger
from hsm_lib.features import (AudioMAEFeatures, FeatureStore, clip_feature_name, corpus_waves, fbank_stats,
                              shared_triplet_features)
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
from hsm_lib.models.acoustic_nar import AcousticNAR, AcousticNARConfig
from hsm_lib.registry import load_model
from hsm_lib.stages.common import loss_figure, n_parameters, saved
from hsm_lib.stages.listening import spectrogram_grid
from hsm_lib.train.acoustic_lm import (LMTrainConfig, encode_tokens, fit_acoustic_lm, mismatched_ce, teacher_forced_ce,
                                      unigram_entropy)
from hsm_lib.train.acoustic_nar import fit_acoustic_nar, frame_values, mismatched_error, regression_error
from hsm_lib.train.loop import TrainConfig
from hsm_lib.train.common import resolve_device

RESYNTHESIS = "codec resynthesis (encode -> decode)"
THROUGH = {"lm": "target S -> acoustic LM -> codec", "nar": "target S -> NAR acoustic decoder -> codec"}
DECODERS = tuple(THROUGH)
LISTENING_CLIPS = 3  # the mixed test set's first targets, in the listening figure and the notebook's players
Waves = Callable[[np.ndarray], np.ndarray]  # [N, L] -> [N, L]


@dataclass
class AcousticLMResult:
    """What the acoustic LM notebook shows."""

    lm: AcousticLM | AcousticNAR
    history: dict[str, list[float]]
    uses_s: str                        # how well it fits the test targets with their own S and with another clip's
    ceilings: str                      # ceilings_acoustic, Markdown
    loss_figure: Figure
    listening: dict[str, np.ndarray]   # "target" / "codec resynthesis" / "S -> decoder -> codec" -> [3, L] waves
    listening_names: list[str]         # the clips' names
    listening_figure: Figure           # their log-mels (reports/figures/acoustic_listening.png)


@dataclass
class _Frozen:
    """The frozen AudioMAE and codec, on the LM's device, and the front end's statistics."""

    mae: torch.nn.Module
    codec: torch.nn.Module
    mean: float
    std: float
    device: torch.device


def run(profile: str, params: dict | None = None, progress: bool = True) -> AcousticLMResult:
    """Train the acoustic decoder (``decoder``: lm or nar), save it, and write its loss figure and the ceilings."""
    P = params if params is not None else profile_section("acoustic_lm", profile)
    if P["decoder"] not in DECODERS:
        raise ConfigError(f"acoustic_lm.decoder must be one of {', '.join(DECODERS)}, got {P['decoder']!r}")
    corpus, models_dir = paths.corpus_dir(profile), paths.profile_dir(profile) / "models"
    train_cfg = (LMTrainConfig if P["decoder"] == "lm" else TrainConfig).from_params(P["train"])
    device = resolve_device(train_cfg.device)  # the frozen AudioMAE and codec run where the decoder trains
    mae = load_model(models_dir / "audiomae", device)
    codec = load_model(models_dir / "codec", device)
    frozen = _Frozen(mae, codec, *fbank_stats(corpus), device)
    waves = corpus_waves(corpus, "train", "clips")[: P["train_clips"]]   # null: all
    store = FeatureStore(paths.features_dir(profile))  # S the audiomae stage already computed
    S = AudioMAEFeatures(mae, waves, mae.cfg.n_frames, frozen.mean, frozen.std, cache=P["cache_features"], progress=progress,
                         precomputed=store.load(clip_feature_name("train"), waves) if P["cache_features"] else None)
    frames = -(-waves.shape[1] // codec.cfg.hop)
    torch.manual_seed(train_cfg.seed)
    state_dir = paths.resumable_state_dir(profile, "acoustic_lm", P["decoder"])
    if P["decoder"] == "lm":
        model, cfg = new_lm(mae, codec, frames, P["model"])
        # encoding tokens is the costly part on a CPU
        train_targets = encode_tokens(codec, waves, progress=progress)
        history = fit_acoustic_lm(model, S, train_targets, train_cfg, progress=progress, state_dir=state_dir)
        ylabel = "cross-entropy per token"
    else:
        model, cfg = new_nar(mae, codec, frames, P["model"])
        train_targets = frame_values(codec, waves, progress=progress)
        history = fit_acoustic_nar(model, S, train_targets, train_cfg, progress=progress, state_dir=state_dir)
        ylabel = "standardised MSE"
    print(f"acoustic decoder ({P['decoder']}): {n_parameters(model) / 1e6:.2f} M parameters; trained on {len(S)} clips, "
          f"{frames} frames x {codec.cfg.groups} groups each")
    save_checkpoint(models_dir / "acoustic_lm", model, "acoustic_lm" if P["decoder"] == "lm" else "acoustic_nar",
                    cfg.to_dict(), {"train": train_cfg.to_dict(), "history": history})
    fig = saved(loss_figure(history, ylabel, f"acoustic decoder, {P['decoder']} (mean of {{k}} steps)"), "acoustic_lm_loss")
    return acoustic_ceilings(model, frozen, train_targets, corpus, P, train_cfg, profile, history, fig)


def new_lm(mae: torch.nn.Module, codec: torch.nn.Module, frames: int, model_params: dict) -> tuple[AcousticLM, AcousticLMConfig]:
    """A fresh acoustic LM sized to the frozen AudioMAE and codec."""
    code_vectors = codec.code_vectors()
    cfg = AcousticLMConfig(cond_dim=mae.cfg.dim, groups=codec.cfg.groups, codebook_size=codec.cfg.codebook_size,
                           max_frames=frames, max_cond=mae.cfg.n_patches, cond_cols=mae.cfg.grid[1],
                           frames_per_cond_row=cond_row_frames(mae, codec), code_dim=code_vectors.shape[-1], **model_params)
    lm = AcousticLM(cfg)
    if cfg.head == "codebook":
        lm.set_code_vectors(code_vectors.cpu())
    return lm, cfg


def new_nar(mae: torch.nn.Module, codec: torch.nn.Module, frames: int, model_params: dict) -> tuple[AcousticNAR, AcousticNARConfig]:
    """A fresh non-autoregressive decoder sized to the frozen AudioMAE and codec (which must be the STFT codec)."""
    per_row = cond_row_frames(mae, codec)
    rows, cols = mae.cfg.grid
    if per_row != int(per_row) or rows * per_row < frames:   # S may overhang the clip (padded to whole patches)
        raise ConfigError(f"S's {rows} rows of {per_row} codec frames do not cover a clip's {frames} frames")
    code_vectors = codec.code_vectors()
    cfg = AcousticNARConfig(cond_dim=mae.cfg.dim, rows=rows, cols=cols, frames_per_row=int(per_row),
                            groups=codec.cfg.groups, codebook_size=codec.cfg.codebook_size,
                            code_dim=code_vectors.shape[-1], **model_params)
    model = AcousticNAR(cfg)
    model.set_code_vectors(code_vectors.cpu())
    return model, cfg


def cond_row_frames(mae: torch.nn.Module, codec: torch.nn.Module) -> float:
    """Codec frames per time row of S: a row is one patch of 10 ms fbank frames (160 ms at patch 16),
    a codec frame ``hop`` samples (20 ms): 8 frames per row."""
    return mae.cfg.patch * FBANK_SHIFT_MS / 1000 / (codec.cfg.hop / codec.cfg.sample_rate)


def acoustic_ceilings(model: AcousticLM | AcousticNAR, frozen: _Frozen, train_targets: torch.Tensor, corpus: Path,
                      P: dict[str, Any], train_cfg: TrainConfig, profile: str, history: dict[str, list[float]],
                      fig: Figure) -> AcousticLMResult:
    """Score codec resynthesis and target S -> decoder -> codec on the mixed test set's targets; write
    ``ceilings_acoustic`` (with how well the decoder fits those targets given their own S and another clip's)."""
    mae, codec = frozen.mae, frozen.codec
    mixed = TripletSet(corpus / "testsets", "mixed")
    n = min(P["eval_clips"], len(mixed))
    items = [mixed[i] for i in range(n)]
    targets = np.stack([it["target"] for it in items])
    _, stored = shared_triplet_features(FeatureStore(paths.features_dir(profile)), "testsets", "mixed", mixed.audio[:n])
    target_S = AudioMAEFeatures(mae, targets, mae.cfg.n_frames, frozen.mean, frozen.std, cache=True, precomputed=stored)
    fit, fit_notes = (lm_fit(model, codec, target_S, targets, train_targets) if P["decoder"] == "lm"
                      else nar_fit(model, codec, target_S, targets))
    print(fit_notes[0])
    gen = torch.Generator().manual_seed(train_cfg.seed)
    through = THROUGH[P["decoder"]]
    outputs = {RESYNTHESIS: resynthesis(codec, frozen.device)(targets),
               through: through_decoder(model, codec, target_S, P["sampling"], gen, frozen.device)(targets)}
    outputs.update(calibration_for(items))  # the same clips
    scores = ceilings(targets, {name: (lambda _, out=out: out) for name, out in outputs.items()}, P["visqol_clips"],
                      tagger=default_tagger())
    listen = {"target": targets[:LISTENING_CLIPS], "codec resynthesis": outputs[RESYNTHESIS][:LISTENING_CLIPS],
              "S -> decoder -> codec": outputs[through][:LISTENING_CLIPS]}
    clip_names = [f"mixed target {i}" for i in range(len(listen["target"]))]
    listening_fig = saved(spectrogram_grid(listen, clip_names), "acoustic_listening")
    notes = [decoder_note(model, P["decoder"], train_cfg, len(train_targets), P["sampling"]), *fit_notes,
             "Calibration rows (the target through Opus 6 kbps, low-passed at 4 kHz, the interferer, the mixture) are "
             "built from the same clips."]
    write_ceilings(scores, profile, n, P["visqol_clips"], notes=notes,
                   data={**fit, "decoder": P["decoder"], "decoder_parameters": n_parameters(model)})
    table = (paths.reports_dir() / "ceilings_acoustic.md").read_text()
    return AcousticLMResult(model, history, fit_notes[0], table, fig, listen, clip_names, listening_fig)


def lm_fit(lm: AcousticLM, codec: torch.nn.Module, target_S: AudioMAEFeatures, targets: np.ndarray,
           train_tokens: torch.Tensor) -> tuple[dict[str, float], list[str]]:
    """The LM's teacher-forced cross-entropy on the targets' tokens, with their own S and another clip's."""
    target_tokens = encode_tokens(codec, targets)
    test_ce, other_ce = teacher_forced_ce(lm, target_S, target_tokens), mismatched_ce(lm, target_S, target_tokens)
    unigram, uniform = unigram_entropy(train_tokens, codec.cfg.codebook_size), float(np.log(codec.cfg.codebook_size))
    line = (f"Teacher-forced cross-entropy on these targets' codec tokens: {test_ce:.3f} nats per token with their own S, "
            f"{other_ce:.3f} with another clip's S (the gap, {other_ce - test_ce:.3f}, is how much the LM uses S); "
            f"a model that knows only each group's code frequencies scores {unigram:.3f}, uniform {uniform:.3f}.")
    return {"teacher_forced_ce": test_ce, "mismatched_s_ce": other_ce, "unigram_entropy": unigram}, [line]


def nar_fit(model: AcousticNAR, codec: torch.nn.Module, target_S: AudioMAEFeatures,
            targets: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """The decoder's standardised MSE on the targets' frame values, with their own S and another clip's."""
    values = frame_values(codec, targets)
    own, other = regression_error(model, target_S, values), mismatched_error(model, target_S, values)
    line = (f"Standardised MSE on these targets' codec frame values (shape latent and gain): {own:.3f} with their own S, "
            f"{other:.3f} with another clip's S (the gap, {other - own:.3f}, is how much the decoder uses S); "
            f"predicting the training mean scores about 1.")
    return {"standardised_mse": own, "mismatched_s_mse": other}, [line]


def resynthesis(codec: torch.nn.Module, device: torch.device) -> Waves:
    """Waves [N, L] -> codec encode -> decode [N, L]."""
    def run_codec(w: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return codec.decode(codec.encode(torch.from_numpy(w).to(device)))[:, : w.shape[1]].cpu().numpy()
    return run_codec


def through_decoder(lm: AcousticLM | AcousticNAR, codec: torch.nn.Module, target_S: AudioMAEFeatures, sampling: dict[str, Any],
               gen: torch.Generator, device: torch.device, batch_size: int = 8) -> Waves:
    """Waves [N, L] -> their S (``target_S``) -> the decoder's tokens -> codec decode [N, L]."""

    def generate(w: np.ndarray) -> np.ndarray:
        frames = -(-w.shape[1] // codec.cfg.hop)   # the clip's codec frames
        outs = []
        for i in range(0, len(w), batch_size):
            idx = torch.arange(i, min(i + batch_size, len(w)))
            toks, _ = lm.generate(target_S[idx], frames, temperature=sampling["temperature"],
                                  top_k=sampling["top_k"], generator=gen, stop_at_end=False)   # exactly `frames` frames
            with torch.no_grad():
                outs.append(codec.decode(toks)[:, : w.shape[1]].cpu().numpy())
        return np.concatenate(outs)
    return generate


def decoder_note(model: AcousticLM | AcousticNAR, decoder: str, train_cfg: TrainConfig, n_train: int,
                 sampling: dict[str, Any]) -> str:
    """The decoder's size and training, for the notes under the ceilings table."""
    cfg = model.cfg
    size = (f"{n_parameters(model) / 1e6:.2f} M parameters, {cfg.layers} layers x {cfg.heads} heads x {cfg.dim}, "
            f"trained {train_cfg.steps} steps of batch {train_cfg.batch_size} on {n_train} clean training clips")
    if decoder == "lm":
        return f"Acoustic LM (autoregressive): {size}; sampling temperature {sampling['temperature']}, top-k {sampling['top_k']}."
    return (f"Acoustic decoder: non-autoregressive (the cpu profile's stand-in for the paper's autoregressive LM), {size}; "
            f"regression to the codec's frame values, tokens the nearest codes.")
