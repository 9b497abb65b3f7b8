"""Stage ``qaudio``: Q-Audio pretraining (ITC + ITM + ITG), the CLAP-style baseline, Table V
and the t-SNE of G (paper Sec. III-B2).

Both models read frozen AudioMAE features S and frozen text-backbone features; they are saved to
data/<profile>/models/{qaudio,clap_baseline}.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from hsm_lib import paths
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.config import profile_section
from hsm_lib.eval import retrieval
from hsm_lib.features import AudioMAEFeatures, FeatureStore, clip_feature_name, corpus_waves, fbank_stats
from hsm_lib.models.clap import CLAPBaseline, CLAPConfig
from hsm_lib.models.qaudio import QAudio, QAudioConfig, attention_mask
from hsm_lib.registry import load_model
from hsm_lib.stages.common import detached, moving_average, n_parameters, saved, window
from hsm_lib.text.backbone import TextBackbone
from hsm_lib.train.qaudio import CaptionFeatures, QAudioTrainConfig, caption_vocabulary, fit_pairs

SPLITS = ("train", "test")


@dataclass
class QAudioResult:
    """What the Q-Audio notebook shows."""

    qaudio: QAudio
    clap: CLAPBaseline
    q_history: dict[str, list[float]]
    clap_history: dict[str, list[float]]
    G_shape: tuple[int, ...]           # G of the test clips: [clips, n_queries, C_g]
    table5: str                        # Table V analog, Markdown
    loss_figure: Figure
    tsne_figure: Figure


@dataclass
class _Inputs:
    """Frozen inputs of both models: AudioMAE features S [N, P, C_s] and captions per split."""

    S: dict[str, AudioMAEFeatures]
    captions: dict[str, list[list[str]]]
    test_tags: list[str]               # first tag of each test clip


def run(profile: str, params: dict | None = None, progress: bool = True) -> QAudioResult:
    """Train Q-Audio and the CLAP-style baseline on the same frozen inputs; write Table V and figures."""
    P = params if params is not None else profile_section("qaudio", profile)
    corpus = paths.corpus_dir(profile)
    models_dir = paths.profile_dir(profile) / "models"
    train_cfg = QAudioTrainConfig.from_params(P["train"])
    mae = load_model(models_dir / "audiomae")  # frozen, as in the paper
    backbone = TextBackbone(P["text_backbone"])
    print(f"frozen AudioMAE: C_s = {mae.cfg.dim}, {mae.cfg.n_patches} patches; "
          f"frozen text backbone '{backbone.name}': C_t = {backbone.dim}")
    inputs = load_inputs(mae, corpus, P["cache_features"], progress, FeatureStore(paths.features_dir(profile)),
                         spill_dir=paths.train_state_dir(profile, "qaudio", "test_features"))   # removed when the stage ends
    all_train_captions = [c for caps in inputs.captions["train"] for c in caps]
    text_bank = CaptionFeatures(backbone, all_train_captions, cache=P["cache_features"])  # shared by both models
    qaudio, q_cfg, lut, q_hist = train_qaudio(mae, backbone, inputs, text_bank, all_train_captions, P, train_cfg, progress,
                                             paths.resumable_state_dir(profile, "qaudio", "qaudio"))
    save_checkpoint(models_dir / "qaudio", qaudio, "qaudio", q_cfg.to_dict(),
                    {"text_backbone": P["text_backbone"], "train": train_cfg.to_dict(), "history": q_hist})
    torch.manual_seed(train_cfg.seed)
    clap = CLAPBaseline(CLAPConfig(audio_dim=mae.cfg.dim, text_dim=backbone.dim, **P["clap"]))
    c_hist = fit_pairs(clap, inputs.S["train"], inputs.captions["train"], backbone, train_cfg, desc="CLAP-style", text_bank=text_bank,
                      progress=progress, state_dir=paths.resumable_state_dir(profile, "qaudio", "clap_baseline"))
    save_checkpoint(models_dir / "clap_baseline", clap, "clap_baseline", clap.cfg.to_dict(),
                    {"text_backbone": P["text_backbone"], "train": train_cfg.to_dict(), "history": c_hist})
    loss_fig = saved(plot_loss(q_hist, c_hist), "qaudio_loss")
    table5 = retrieval_table(qaudio, clap, lut, backbone, inputs, P, train_cfg, profile, progress)
    G = global_features(qaudio, inputs.S["test"])
    print(f"G: {tuple(G.shape)} = [clips, n_queries, C_g]")
    tsne_fig = saved(plot_tsne(G, inputs.test_tags, profile), "qaudio_tsne")
    return QAudioResult(qaudio, clap, q_hist, c_hist, tuple(G.shape), table5, loss_fig, tsne_fig)


def load_inputs(mae: torch.nn.Module, corpus: Path, cache: bool, progress: bool, store: FeatureStore | None = None,
                spill_dir: Path | None = None) -> _Inputs:
    """Captions of the train and test clips, their frozen AudioMAE features (from ``store``, the
    audiomae stage's export, where it holds them), the test clips' tags. Without ``cache``, the
    training clips' S is computed per batch and the test clips' once, into a file in ``spill_dir``
    (retrieval reads every test clip's S several times)."""
    mean, std = fbank_stats(corpus)
    captions = {s: [c["captions"] for c in json.loads((corpus / "clips" / f"{s}.json").read_text())] for s in SPLITS}
    tags = [c["tags"][0] for c in json.loads((corpus / "clips" / "test.json").read_text())]
    waves = {s: corpus_waves(corpus, s, "clips") for s in SPLITS}
    spill = {s: None if cache or s != "test" or spill_dir is None else spill_dir / f"S_{s}.npy" for s in SPLITS}
    if spill["test"] is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)
    S = {s: AudioMAEFeatures(mae, waves[s], mae.cfg.n_frames, mean, std, cache=cache or spill[s] is not None,
                             progress=progress, spill=spill[s],
                             precomputed=store.load(clip_feature_name(s), waves[s]) if store and cache else None)
         for s in SPLITS}
    print({s: f"{len(S[s])} clips, {sum(map(len, captions[s]))} captions" for s in S})
    print("example:", captions["train"][0][0])
    return _Inputs(S, captions, tags)


def train_qaudio(mae: torch.nn.Module, backbone: TextBackbone, inputs: _Inputs, text_bank: CaptionFeatures,
                 all_train_captions: list[str], P: dict[str, Any], train_cfg: QAudioTrainConfig,
                 progress: bool = True, state_dir: Path | None = None
                 ) -> tuple[QAudio, QAudioConfig, torch.Tensor | None, dict[str, list[float]]]:
    """Build Q-Audio (its ITG head over the corpus's tokens or the whole vocabulary) and pretrain it.
    Returns the model, its config, the vocabulary lookup (or None) and the history. Resumes from
    ``state_dir`` if a killed run left a state there."""
    lut = caption_vocabulary(backbone, all_train_captions) if P["itg_vocab"] == "corpus" else None
    vocab = int(lut.max()) + 1 if lut is not None else backbone.vocab_size
    q_cfg = QAudioConfig(audio_dim=mae.cfg.dim, text_dim=backbone.dim, vocab_size=vocab,
                         backbone_vocab=backbone.vocab_size, **P["model"])
    torch.manual_seed(train_cfg.seed)
    qaudio = QAudio(q_cfg, vocab_lut=lut)
    print(f"Q-Audio: {n_parameters(qaudio) / 1e6:.2f} M parameters; ITG over {vocab} classes")
    q_hist = fit_pairs(qaudio, inputs.S["train"], inputs.captions["train"], backbone, train_cfg, desc="Q-Audio", text_bank=text_bank,
                      progress=progress, state_dir=state_dir)
    return qaudio, q_cfg, lut, q_hist


def plot_masks(n_text: int = 6) -> Figure:
    """The ITC, ITM and ITG self-attention masks (query first, then ``n_text`` text positions)."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    ticks = ["Q"] + [f"t{i}" for i in range(n_text)]
    for ax, obj in zip(axes, ("itc", "itm", "itg")):
        ax.imshow(attention_mask(obj, 1, n_text).numpy(), cmap="Greens", vmin=0, vmax=1.3)
        ax.set_title(obj.upper()); ax.set_xticks(range(n_text + 1), ticks); ax.set_yticks(range(n_text + 1), ticks)
    fig.tight_layout()
    return detached(fig)


def plot_loss(q_hist: dict[str, list[float]], c_hist: dict[str, list[float]]) -> Figure:
    """Q-Audio's three losses beside the baseline's ITC, and Q-Audio's total."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
    k = window(len(q_hist["step"]), 40)
    for name in ("itc", "itm", "itg"):
        axes[0].plot(q_hist["step"][k - 1:], moving_average(q_hist[name], k), label=f"Q-Audio {name.upper()}")
    axes[0].plot(c_hist["step"][k - 1:], moving_average(c_hist["itc"], k), "k--", label="CLAP-style ITC")
    axes[0].set_xlabel("step"); axes[0].set_ylabel("loss"); axes[0].legend(); axes[0].set_title(f"pretraining (mean of {k} steps)")
    axes[1].plot(q_hist["step"][k - 1:], moving_average(q_hist["total"], k), label="Q-Audio total (weights 1.0)")
    axes[1].set_xlabel("step"); axes[1].legend()
    fig.tight_layout()
    return fig


def retrieval_table(qaudio: QAudio, clap: CLAPBaseline, lut: torch.Tensor | None, backbone: TextBackbone,
                    inputs: _Inputs, P: dict[str, Any], train_cfg: QAudioTrainConfig, profile: str, progress: bool) -> str:
    """Table V analog: text-to-audio R@1/5/10 on the test clips, for Q-Audio (ITC, and re-ranked by
    ITM), the baseline and an untrained Q-Audio; written, and returned as Markdown."""
    qaudio.eval(); clap.eval()
    torch.manual_seed(train_cfg.seed)
    untrained = QAudio(qaudio.cfg, vocab_lut=lut).eval()
    S, captions = inputs.S["test"], inputs.captions["test"]
    bar = (lambda r: tqdm(r, desc="ITM re-rank", leave=False)) if progress else None
    results = {}
    with torch.no_grad():
        results["Q-Audio (ours, ITC + ITM + ITG)"], sim = retrieval.text_to_audio(qaudio, backbone, S, captions)
        results["Q-Audio, ITC scores re-ranked by ITM (BLIP-2)"] = retrieval.itm_rerank(
            qaudio, backbone, S, captions, sim, top=P["rerank_top"], progress=bar)
        results["CLAP-style two-tower, ITC only (same budget)"], _ = retrieval.text_to_audio(clap, backbone, S, captions)
        results["Q-Audio, untrained"], _ = retrieval.text_to_audio(untrained, backbone, S, captions)
    queries, _ = retrieval.queries_and_relevance(captions)
    retrieval.write_table5(results, profile, len(queries), len(S), P["text_backbone"])
    return (paths.reports_dir() / "table5_retrieval.md").read_text()


def global_features(qaudio: QAudio, S: AudioMAEFeatures, batch_size: int = 64) -> torch.Tensor:
    """G [clips, n_queries, C_g]: Q-Audio's query output for every clip of ``S``."""
    with torch.no_grad():
        return torch.cat([qaudio.audio_features(S[torch.arange(i, min(i + batch_size, len(S)))])
                          for i in range(0, len(S), batch_size)])


def plot_tsne(G: torch.Tensor, tags: list[str], profile: str, n_top: int = 10) -> Figure:
    """t-SNE of G's first query vector [clips, C_g], coloured by the clips' ``n_top`` most common tags."""
    from sklearn.manifold import TSNE

    xy = TSNE(n_components=2, perplexity=min(30, max(2, len(G) // 4)), init="pca", random_state=0).fit_transform(G[:, 0].numpy())
    top = [t for t, _ in Counter(tags).most_common(n_top)]
    fig, ax = plt.subplots(figsize=(8, 6))
    other = np.array([t not in top for t in tags])
    ax.scatter(*xy[other].T, s=8, c="lightgrey", label="other tags")
    for i, t in enumerate(top):
        sel = np.array([x == t for x in tags])
        ax.scatter(*xy[sel].T, s=14, color=plt.cm.tab10(i), label=t)
    ax.legend(fontsize=7, loc="best", markerscale=1.5); ax.set_xticks([]); ax.set_yticks([])
    ax.set_title(f"t-SNE of Q-Audio's G on {len(G)} held-out clips ({profile} profile)")
    return fig
