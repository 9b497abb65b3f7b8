"""Stage ``eval_clap``: the evaluation CLAP, the CLAP score's judge (paper Sec. V-B).

A two-tower stand-in for MS-CLAP, trained apart from every separation model: the audio tower
reads an independent tagger's embedding (``aisfx``), the text tower the frozen text backbone's
sentence embedding. Saved to data/<profile>/models/eval_clap; its test retrieval goes in
``eval_clap``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.eval.retrieval import queries_and_relevance, recall_at_k
from hsm_lib.eval.tagger import Tagger, default_tagger
from hsm_lib.features import corpus_waves, to_float
from hsm_lib.models.eval_clap import EvalCLAP, EvalCLAPConfig
from hsm_lib.reporting import write_table
from hsm_lib.text.backbone import TextBackbone
from hsm_lib.train.eval_clap import EvalCLAPTrainConfig, fit_eval_clap

SPLITS = ("train", "test")
NOTE_JUDGE = ("Trained on the training split only, apart from every separation model; it stands in for MS-CLAP in the "
              "CLAP score (cosine between its audio embedding of the output and its text embedding of the caption).")


@dataclass
class EvalCLAPResult:
    """What the evaluation CLAP notebook shows."""

    model: EvalCLAP
    history: dict[str, list[float]]
    recall: dict[str, float]           # R@1/5/10 (percent) on the test clips
    table: str                         # eval_clap, Markdown


def run(profile: str, params: dict | None = None, progress: bool = True) -> EvalCLAPResult:
    """Train the evaluation CLAP on the training clips' (tagger embedding, caption) pairs, save it,
    and write its test retrieval."""
    P = params if params is not None else profile_section("eval_clap", profile)
    corpus, models_dir = paths.corpus_dir(profile), paths.profile_dir(profile) / "models"
    backbone = TextBackbone(profile_section("qaudio", profile)["text_backbone"])
    tagger = default_tagger()
    captions = {s: [c["captions"] for c in json.loads((corpus / "clips" / f"{s}.json").read_text())] for s in SPLITS}
    audio = {s: tagger_embeddings(tagger, corpus, s) for s in SPLITS}
    print({s: tuple(a.shape) for s, a in audio.items()})
    cfg = EvalCLAPConfig(audio_dim=audio["train"].shape[1], text_dim=backbone.dim, **P["model"])
    train_cfg = EvalCLAPTrainConfig.from_params(P["train"])
    torch.manual_seed(train_cfg.seed)
    model = EvalCLAP(cfg)
    flat = [c for caps in captions["train"] for c in caps]
    history = fit_eval_clap(model, audio["train"], captions["train"], sentences(backbone, flat), train_cfg, progress=progress,
                            state_dir=paths.resumable_state_dir(profile, "eval_clap", "eval_clap"))
    save_checkpoint(models_dir / "eval_clap", model, "eval_clap", cfg.to_dict(),
                    {"text_backbone": backbone.name, "train": train_cfg.to_dict(), "history": history})
    recall = retrieval_table(model, backbone, audio["test"], captions["test"], history, profile)
    return EvalCLAPResult(model, history, recall, (paths.reports_dir() / "eval_clap.md").read_text())


def tagger_embeddings(tagger: Tagger, corpus: Path, split: str, batch: int = 32) -> torch.Tensor:
    """[N, D]: the tagger's embedding of every clip of ``split``."""
    waves = corpus_waves(corpus, split, "clips")
    return torch.cat([torch.from_numpy(tagger(to_float(np.asarray(waves[i:i + batch])))[0]) for i in range(0, len(waves), batch)])


def sentences(backbone: TextBackbone, texts: Sequence[str], batch: int = 256) -> torch.Tensor:
    """[N, C_t]: the backbone's sentence embedding of each text."""
    return torch.cat([backbone.encode(list(texts[i:i + batch])).pooled for i in range(0, len(texts), batch)])


def retrieval_table(model: EvalCLAP, backbone: TextBackbone, audio: torch.Tensor, captions: list[list[str]],
                    history: dict[str, list[float]], profile: str) -> dict[str, float]:
    """Text-to-audio R@1/5/10 over the test clips (``audio`` [N, D]); writes ``eval_clap``."""
    queries, relevant = queries_and_relevance(captions)
    with torch.no_grad():
        sim = (model.text_embedding(sentences(backbone, queries)) @ model.audio_embedding(audio).T).numpy()
    recall = recall_at_k(sim, relevant)
    chance = float(relevant.sum(1).mean() / relevant.shape[1])
    write_table("eval_clap", f"The evaluation CLAP: text-to-audio retrieval on the test clips ({profile} profile)",
                ["model", "R@1", "R@5", "R@10"],
                [["evaluation CLAP (aisfx audio tower, text-backbone text tower)", *(recall[k] for k in ("R@1", "R@5", "R@10"))]],
                notes=[f"{len(queries)} distinct captions as queries over {len(audio)} test clips; a random ranking "
                       f"finds a relevant clip at rank 1 with probability {100 * chance:.1f} %.", NOTE_JUDGE],
                data={"history": history})
    return recall
