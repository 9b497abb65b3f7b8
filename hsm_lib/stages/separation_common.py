"""What the three separation stages (``global_sep``, ``local_sep``, ``joint_ft``) share: the
frozen encoders and the training and test examples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hsm_lib import paths
from hsm_lib.checkpoint import read_config
from hsm_lib.data.triplets import TripletSet
from hsm_lib.features import FeatureStore, fbank_stats, shared_triplet_features
from hsm_lib.registry import load_model
from hsm_lib.text.backbone import TextBackbone
from hsm_lib.train.common import resolve_device
from hsm_lib.train.separation import SepTrainConfig, SeparationExamples


@dataclass
class SeparationSetup:
    """Frozen AudioMAE, Q-Audio and text backbone on the training device, and the examples:
    each triplet with its extraction and its removal instruction."""

    corpus: Path
    models_dir: Path
    train_cfg: SepTrainConfig
    device: torch.device
    mae: torch.nn.Module
    qaudio: torch.nn.Module
    backbone: TextBackbone
    mean: float
    std: float
    train: SeparationExamples
    test: SeparationExamples          # the mixed test set


def load_setup(profile: str, P: dict[str, Any], progress: bool = True) -> SeparationSetup:
    """Load the frozen encoders of ``profile`` and build the training triplets' examples (the
    first ``P["train_triplets"]``; null: all) and the mixed test set's."""
    corpus, models_dir = paths.corpus_dir(profile), paths.profile_dir(profile) / "models"
    train_cfg = SepTrainConfig.from_params(P["train"])
    device = resolve_device(train_cfg.device)
    mae = load_model(models_dir / "audiomae", device)
    qaudio = load_model(models_dir / "qaudio", device)
    backbone = TextBackbone(read_config(models_dir / "qaudio", "qaudio")["text_backbone"])
    backbone.encoder.to(device)
    mean, std = fbank_stats(corpus)
    store = FeatureStore(paths.features_dir(profile))

    def examples(directory: str, name: str, limit: int | None = None) -> SeparationExamples:
        triplets = TripletSet(corpus / directory, name)
        n = len(triplets) if limit is None else min(limit, len(triplets))
        pre = shared_triplet_features(store, directory, name, triplets.audio[:n]) if P["cache_features"] else None
        return SeparationExamples(triplets, mae, mean, std, qaudio, backbone, cache=P["cache_features"], limit=limit,
                                  progress=progress, precomputed=pre)

    train = examples("triplets", "train", P["train_triplets"])
    test = examples("testsets", "mixed")
    print(f"{len(train)} training and {len(test)} test examples (each triplet with its extraction and its removal instruction)")
    return SeparationSetup(corpus, models_dir, train_cfg, device, mae, qaudio, backbone, mean, std, train, test)
