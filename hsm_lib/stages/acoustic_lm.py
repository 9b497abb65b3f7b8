"""Stage ``acoustic_lm``: the autoregressive acoustic LM from S to codec tokens, and the
ceilings of the generative path (paper Sec. III-E1, Eq. 9-10).

Trains on the clean training clips (S from the frozen AudioMAE, tokens from the frozen codec),
saves to data/<profile>/models/acoustic_lm and writes ``ceilings_acoustic``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.audio import FBANK_SHIFT_MS
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval.calibration import calibration_for
from hsm_lib.eval.ceilings import ceilings, write_ceilings
from hsm_lib.eval.tagger import default_tagger
from hsm_lib.features import AudioMAEFeatures, corpus_waves, fbank_stats
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
from hsm_lib.registry import load_model
from hsm_lib.stages.common import loss_figure, n_parameters, saved
from hsm_lib.stages.listening import spectrogram_grid
from hsm_lib.train.acoustic_lm import (LMTrainConfig, encode_tokens, fit_acoustic_lm, mismatched_ce, teacher_forced_ce,
                                      unigram_entropy)
from hsm_lib.train.common import resolve_device

RESYNTHESIS, THROUGH_LM = "codec resynthesis (encode -> decode)", "target S -> acoustic LM -> codec"
LISTENING_CLIPS = 3  # the mixed test set's first targets, in the listening figure and the notebook's players
Waves = Callable[[np.ndarray], np.ndarray]  # [N, L] -> [N, L]


@dataclass
class AcousticLMResult:
    """What the acoustic LM notebook shows."""

    lm: AcousticLM
    history: dict[str, list[float]]
    teacher_forced_ce: float           # nats per token on the test targets' tokens
    mismatched_ce: float               # the same tokens, each under another clip's S
    unigram_entropy: float             # nats per token of a code-frequency model
    ceilings: str                      # ceilings_acoustic, Markdown
    loss_figure: Figure
    listening: dict[str, np.ndarray]   # "target" / "codec resynthesis" / "S -> LM -> codec" -> [3, L] waves
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
    """Train the acoustic LM, save it, and write its loss figure and the acoustic ceilings."""
    P = params if params is not None else profile_section("acoustic_lm", profile)
    corpus, models_dir = paths.corpus_dir(profile), paths.profile_dir(profile) / "models"
    train_cfg = LMTrainConfig.from_params(P["train"])
    device = resolve_device(train_cfg.device)  # the frozen AudioMAE and codec run where the LM trains
    mae = load_model(models_dir / "audiomae", device)
    codec = load_model(models_dir / "codec", device)
    clip_samples = corpus_waves(corpus, "train", "clips").shape[1]
    frames = -(-clip_samples // codec.cfg.hop)
    code_vectors = codec.code_vectors()
    lm_cfg = AcousticLMConfig(cond_dim=mae.cfg.dim, groups=codec.cfg.groups, codebook_size=codec.cfg.codebook_size,
                              max_frames=frames, max_cond=mae.cfg.n_patches, cond_cols=mae.cfg.grid[1],
                              frames_per_cond_row=cond_row_frames(mae, codec), code_dim=code_vectors.shape[-1],
                              **P["model"])
    torch.manual_seed(train_cfg.seed)
    lm = AcousticLM(lm_cfg)
    if lm_cfg.head == "codebook":
        lm.set_code_vectors(code_vectors.cpu())
    print(f"acoustic LM: {n_parameters(lm) / 1e6:.2f} M parameters; {frames} frames x {lm_cfg.groups} groups per clip")
    frozen = _Frozen(mae, codec, *fbank_stats(corpus), device)
    S, tokens = training_pairs(frozen, corpus, P, progress)
    history = fit_acoustic_lm(lm, S, tokens, train_cfg, progress=progress,
                              state_dir=paths.resumable_state_dir(profile, "acoustic_lm", "lm"))
    save_checkpoint(models_dir / "acoustic_lm", lm, "acoustic_lm", lm_cfg.to_dict(),
                    {"train": dataclasses.asdict(train_cfg), "history": history})
    fig = saved(loss_figure(history, "cross-entropy per token", "acoustic LM (mean of {k} steps)"), "acoustic_lm_loss")
    return acoustic_ceilings(lm, frozen, tokens, corpus, P, train_cfg, profile, history, fig)


def cond_row_frames(mae: torch.nn.Module, codec: torch.nn.Module) -> float:
    """Codec frames per time row of S: a row is one patch of 10 ms fbank frames (160 ms at patch 16),
    a codec frame ``hop`` samples (20 ms): 8 frames per row."""
    return mae.cfg.patch * FBANK_SHIFT_MS / 1000 / (codec.cfg.hop / codec.cfg.sample_rate)


def training_pairs(frozen: _Frozen, corpus: Path, P: dict[str, Any], progress: bool) -> tuple[AudioMAEFeatures, torch.Tensor]:
    """S [N, P, C_s] and codec tokens [N, frames, groups] of the clean training clips
    (the first ``P["train_clips"]``; null: all; encoding tokens is the costly part on a CPU)."""
    waves = corpus_waves(corpus, "train", "clips")[: P["train_clips"]]
    S = AudioMAEFeatures(frozen.mae, waves, frozen.mae.cfg.n_frames, frozen.mean, frozen.std,
                         cache=P["cache_features"], progress=progress)
    tokens = encode_tokens(frozen.codec, waves, progress=progress)
    print(f"S {len(S)} clips; tokens {tuple(tokens.shape)}")
    return S, tokens


def acoustic_ceilings(lm: AcousticLM, frozen: _Frozen, tokens: torch.Tensor, corpus: Path, P: dict[str, Any],
                      train_cfg: LMTrainConfig, profile: str, history: dict[str, list[float]], fig: Figure) -> AcousticLMResult:
    """Score codec resynthesis and target S -> LM -> codec on the mixed test set's targets; write
    ``ceilings_acoustic`` (with the LM's teacher-forced cross-entropy beside a code-frequency model)."""
    mae, codec = frozen.mae, frozen.codec
    mixed = TripletSet(corpus / "testsets", "mixed")
    n = min(P["eval_clips"], len(mixed))
    items = [mixed[i] for i in range(n)]
    targets = np.stack([it["target"] for it in items])
    target_S = AudioMAEFeatures(mae, targets, mae.cfg.n_frames, frozen.mean, frozen.std, cache=True)
    target_tokens = encode_tokens(codec, targets)
    test_ce = teacher_forced_ce(lm, target_S, target_tokens)
    other_ce = mismatched_ce(lm, target_S, target_tokens)
    unigram = unigram_entropy(tokens, codec.cfg.codebook_size)
    uniform = np.log(codec.cfg.codebook_size)
    print(f"teacher-forced cross-entropy on the {n} targets: {test_ce:.3f} nats/token with their own S, "
          f"{other_ce:.3f} with another clip's S (code-frequency model: {unigram:.3f}; uniform: {uniform:.3f})")
    gen = torch.Generator().manual_seed(train_cfg.seed)
    outputs = {RESYNTHESIS: resynthesis(codec, frozen.device)(targets),
               THROUGH_LM: through_lm(lm, codec, target_S, P["sampling"], gen, frozen.device)(targets)}
    outputs.update(calibration_for(items))  # the same clips
    scores = ceilings(targets, {name: (lambda _, out=out: out) for name, out in outputs.items()}, P["visqol_clips"],
                      tagger=default_tagger())
    listen = {"target": targets[:LISTENING_CLIPS], "codec resynthesis": outputs[RESYNTHESIS][:LISTENING_CLIPS],
              "S -> LM -> codec": outputs[THROUGH_LM][:LISTENING_CLIPS]}
    clip_names = [f"mixed target {i}" for i in range(len(listen["target"]))]
    listening_fig = saved(spectrogram_grid(listen, clip_names), "acoustic_listening")
    write_ceilings(scores, profile, n, P["visqol_clips"], notes=ceiling_notes(lm, train_cfg, len(tokens), P["sampling"], test_ce, other_ce, unigram, uniform),
                   data={"teacher_forced_ce": test_ce, "mismatched_s_ce": other_ce, "unigram_entropy": unigram,
                         "lm_parameters": n_parameters(lm)})
    table = (paths.reports_dir() / "ceilings_acoustic.md").read_text()
    return AcousticLMResult(lm, history, test_ce, other_ce, unigram, table, fig, listen, clip_names, listening_fig)


def resynthesis(codec: torch.nn.Module, device: torch.device) -> Waves:
    """Waves [N, L] -> codec encode -> decode [N, L]."""
    def run_codec(w: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return codec.decode(codec.encode(torch.from_numpy(w).to(device)))[:, : w.shape[1]].cpu().numpy()
    return run_codec


def through_lm(lm: AcousticLM, codec: torch.nn.Module, target_S: AudioMAEFeatures, sampling: dict[str, Any],
               gen: torch.Generator, device: torch.device, batch_size: int = 8) -> Waves:
    """Waves [N, L] -> their S (``target_S``) -> LM-sampled tokens -> codec decode [N, L]."""
    frames = lm.cfg.max_frames

    def generate(w: np.ndarray) -> np.ndarray:
        outs = []
        for i in range(0, len(w), batch_size):
            idx = torch.arange(i, min(i + batch_size, len(w)))
            toks, _ = lm.generate(target_S[idx], frames, temperature=sampling["temperature"],
                                  top_k=sampling["top_k"], generator=gen, stop_at_end=False)   # exactly `frames` frames
            with torch.no_grad():
                outs.append(codec.decode(toks)[:, : w.shape[1]].cpu().numpy())
        return np.concatenate(outs)
    return generate


def ceiling_notes(lm: AcousticLM, train_cfg: LMTrainConfig, n_train: int, sampling: dict[str, Any],
                  test_ce: float, other_ce: float, unigram: float, uniform: float) -> list[str]:
    """The notes under the ceilings table: the LM's size and training, and its cross-entropy."""
    cfg = lm.cfg
    return [f"Acoustic LM: {n_parameters(lm) / 1e6:.2f} M parameters, {cfg.layers} layers x {cfg.heads} heads x {cfg.dim}, "
            f"trained {train_cfg.steps} steps of batch {train_cfg.batch_size} on {n_train} clean training clips; "
            f"sampling temperature {sampling['temperature']}, top-k {sampling['top_k']}.",
            f"Teacher-forced cross-entropy on these targets' codec tokens: {test_ce:.3f} nats per token with their own S, "
            f"{other_ce:.3f} with another clip's S (the gap, {other_ce - test_ce:.3f}, is how much the LM uses S); "
            f"a model that knows only each group's code frequencies scores {unigram:.3f}, uniform {uniform:.3f}.",
            "Calibration rows (the target through Opus 6 kbps, low-passed at 4 kHz, the interferer, the mixture) are "
            "built from the same clips."]
