"""One registry of model kinds: any checkpoint folder back to its model, with no kind argument.

Every checkpoint's ``config.json`` names its ``kind`` (see :mod:`hsm_lib.checkpoint`); the
registry maps that kind to the model class and its config class, so

    model = load_model("data/cpu/models/h2_joint")

rebuilds whatever the folder holds. (The model modules import nothing heavier than torch.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from hsm_lib.checkpoint import CONFIG, CheckpointError, load_weights, read_config
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
from hsm_lib.models.acoustic_nar import AcousticNAR, AcousticNARConfig
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.models.clap import CLAPBaseline, CLAPConfig
from hsm_lib.models.codec import Codec, CodecConfig
from hsm_lib.models.eval_clap import EvalCLAP, EvalCLAPConfig
from hsm_lib.models.nar import NARConfig, SeparationTransformer
from hsm_lib.models.qaudio import QAudio, QAudioConfig
from hsm_lib.models.resunet import ResUNetConfig, ResUNetFiLM
from hsm_lib.models.stft_codec import STFTCodec, STFTCodecConfig


# kind (as stored in config.json) -> (model class, config class)
KINDS: dict[str, tuple[type[torch.nn.Module], type]] = {
    "audiomae": (AudioMAE, AudioMAEConfig),
    "qaudio": (QAudio, QAudioConfig),
    "clap_baseline": (CLAPBaseline, CLAPConfig),
    "codec": (Codec, CodecConfig),                  # the waveform codec (strided convolutions)
    "stft_codec": (STFTCodec, STFTCodecConfig),     # the STFT-domain gain-shape codec (TF-Codec-like)
    "acoustic_lm": (AcousticLM, AcousticLMConfig),
    "acoustic_nar": (AcousticNAR, AcousticNARConfig),   # the cpu profile's non-autoregressive acoustic decoder
    "h1": (SeparationTransformer, NARConfig),       # the global stage, H1
    "h2": (SeparationTransformer, NARConfig),       # the local stage, H2
    "single": (SeparationTransformer, NARConfig),   # Ours_single: H2 without the global stage
    "resunet_film": (ResUNetFiLM, ResUNetConfig),
    "eval_clap": (EvalCLAP, EvalCLAPConfig),
}


def checkpoint_kind(folder: str | os.PathLike[str]) -> str:
    """The kind a checkpoint folder's ``config.json`` names (a clear error if it names none we know)."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"'{folder}' is not a checkpoint: {CONFIG} is missing")
    kind = json.loads(path.read_text()).get("kind")
    if kind not in KINDS:
        raise CheckpointError(f"checkpoint '{folder}' holds kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    return kind


def build_model(kind: str, config: dict[str, Any]) -> torch.nn.Module:
    """A freshly initialised model of ``kind`` from its stored constructor config."""
    if kind not in KINDS:
        raise CheckpointError(f"unknown model kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    model_cls, cfg_cls = KINDS[kind]
    return model_cls(cfg_cls(**config))


def load_model(folder: str | os.PathLike[str], device: str | torch.device = "cpu", frozen: bool = True) -> torch.nn.Module:
    """A checkpoint folder -> its model, weights loaded, in eval mode on ``device``.

    ``frozen`` (the default, for inference and for the frozen encoders of later stages) turns off
    gradients; pass ``frozen=False`` to fine-tune."""
    kind = checkpoint_kind(folder)
    meta = read_config(folder, kind)
    model = load_weights(folder, build_model(kind, meta["config"])).eval().to(device)
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return model
