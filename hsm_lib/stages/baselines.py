"""Stage ``baselines``: the mask-based ResUNet-FiLM baseline (AudioSep's architecture) on the
same training triplets (paper Sec. IV-B).

Trains it with extraction instructions and the frozen text backbone's sentence embedding of the
parsed caption, saves it to data/<profile>/models/resunet_film, and takes a first look at its
SI-SDRi on the mixed test set (stage ``evaluate`` scores it properly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval.metrics import si_sdr_improvement
from hsm_lib.models.resunet import ResUNetConfig, ResUNetFiLM
from hsm_lib.stages.common import loss_figure, n_parameters, saved
from hsm_lib.text.backbone import TextBackbone
from hsm_lib.text.instructions import parse_instruction
from hsm_lib.train.baseline import LOSS_LABELS, BaselineTrainConfig, fit_resunet


@dataclass
class BaselinesResult:
    """What the baselines notebook shows."""

    model: ResUNetFiLM
    history: dict[str, list[float]]
    si_sdri: list[float]               # dB, per mixed test triplet (the first 20)
    loss_figure: Figure


def run(profile: str, params: dict | None = None, progress: bool = True) -> BaselinesResult:
    """Train ResUNet-FiLM, save it, draw its loss and score it on the first mixed test triplets."""
    P = params if params is not None else profile_section("baselines", profile)
    corpus, models_dir = paths.corpus_dir(profile), paths.profile_dir(profile) / "models"
    train_cfg = BaselineTrainConfig.from_params(P["train"])
    backbone = TextBackbone(profile_section("qaudio", profile)["text_backbone"])
    train = TripletSet(corpus / "triplets", "train")
    text = caption_embeddings(backbone, train)
    # The removal instruction names the other source: its caption queries that source when it is the target.
    other_text = caption_embeddings(backbone, train, "removal") if train_cfg.both_sources else None
    print(f"{len(train)} training triplets (extraction instructions{', and each other source by its caption' if train_cfg.both_sources else ''}); "
          f"caption embeddings {tuple(text.shape)}{', encoded per batch' if isinstance(text, CaptionEmbeddings) else ''}")
    cfg = ResUNetConfig(text_dim=backbone.dim, **P["model"])
    torch.manual_seed(train_cfg.seed)
    model = ResUNetFiLM(cfg)
    print(f"ResUNet-FiLM: {n_parameters(model) / 1e6:.2f} M parameters")
    history = fit_resunet(model, train.audio, text, train_cfg, progress=progress,
                          state_dir=paths.resumable_state_dir(profile, "baselines", "resunet_film"), other_text=other_text)
    save_checkpoint(models_dir / "resunet_film", model, "resunet_film", cfg.to_dict(),
                    {"text_backbone": backbone.name, "train": train_cfg.to_dict(), "history": history})
    fig = saved(loss_figure(history, LOSS_LABELS[train_cfg.loss], "ResUNet-FiLM training loss (mean of {k} steps)"), "baseline_loss")
    sdri = first_look(model, backbone, corpus)
    print(f"SI-SDRi on {len(sdri)} mixed test triplets: {np.mean(sdri):.2f} dB")
    return BaselinesResult(model, history, sdri, fig)


def caption_embeddings(backbone: TextBackbone, triplets: TripletSet, instruction: str = "extraction",
                       batch_size: int = 256) -> torch.Tensor | CaptionEmbeddings:
    """[N, C_t]: the backbone's sentence embedding of each triplet's caption, parsed from its
    ``instruction`` ("extraction": the target's caption; "removal": the other source's).

    A set stored as records (the paper profile's streaming storage) gets a
    :class:`CaptionEmbeddings` that encodes the rows a batch asks for: at 1.7M triplets the whole
    [N, C_t] would be ~5 GB. Other sets get the tensor, computed once."""
    captions = ParsedCaptions(triplets.records, instruction)
    if triplets.storage == "records":
        return CaptionEmbeddings(backbone, captions)
    return torch.cat([backbone.encode(captions[i:i + batch_size]).pooled for i in range(0, len(captions), batch_size)])


class ParsedCaptions(Sequence):
    """The caption each record's ``instruction`` names, parsed when read: ``captions[i]`` -> str."""

    def __init__(self, records: Sequence[dict], instruction: str):
        self.records, self.instruction = records, instruction

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return parse_instruction(self.records[i]["instructions"][self.instruction]["text"]).caption


class CaptionEmbeddings:
    """[N, C_t] sentence embeddings encoded per batch: ``emb[rows]`` (an index tensor or array) ->
    [len(rows), C_t], as the tensor :func:`caption_embeddings` computes once would give."""

    def __init__(self, backbone: TextBackbone, captions: Sequence[str]):
        self.backbone, self.captions = backbone, captions

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.captions), self.backbone.dim)

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, rows) -> torch.Tensor:
        if isinstance(rows, slice):
            rows = range(*rows.indices(len(self)))
        return self.backbone.encode([self.captions[int(i)] for i in np.atleast_1d(np.asarray(rows))]).pooled


def first_look(model: ResUNetFiLM, backbone: TextBackbone, corpus: Path, n: int = 20) -> list[float]:
    """SI-SDRi (dB) of the model on the first ``n`` mixed test triplets, extraction instructions."""
    mixed = TripletSet(corpus / "testsets", "mixed")
    n = min(n, len(mixed))
    items = [mixed[i] for i in range(n)]
    with torch.no_grad():
        out = model(torch.from_numpy(np.stack([it["mixture"] for it in items])), caption_embeddings(backbone, mixed)[:n]).numpy()
    return [si_sdr_improvement(o, it["target"], it["mixture"]) for o, it in zip(out, items)]
