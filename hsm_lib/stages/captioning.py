"""Stage ``captioning``: the Table VI analog, audio captioning from frozen features (paper Sec. V-D).

The paper judges how much a frozen audio feature says about a clip by training a caption
decoder on it (a linear map and GPT-2) and scoring the captions. Here the same recipe
(:mod:`hsm_lib.models.caption_decoder`) runs on the features this project trains, with the same
data, decoder, budget and seed for each:

- Q-Audio's global feature G (``qaudio`` stage), ours;
- the CLAP-style two-tower baseline's audio embedding (``qaudio`` stage), for the paper's CLAPs;
- the frozen AudioMAE features S averaged over patches, the input both models read;
- a constant feature: no audio at all, the decoder's language prior (the floor);

beside the ceiling: one of each clip's own reference captions scored against its others. Every
row is scored on the test clips with at least two captions, against all of their captions but the
first (the ceiling's candidate), so all rows face the same references. Metrics and their
intervals: :mod:`hsm_lib.eval.captioning`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.config import check_keys, from_section, profile_section
from hsm_lib.eval.captioning import CaptionScore, MeteorScorer, compare, score_systems, spice_unavailable
from hsm_lib.features import FeatureStore
from hsm_lib.models.caption_decoder import CaptionDecoder, CaptionDecoderConfig, build_decoder
from hsm_lib.registry import load_model
from hsm_lib.reporting import write_table
from hsm_lib.stages.common import detached, moving_average, n_parameters, saved, window
from hsm_lib.stages.qaudio import load_inputs
from hsm_lib.train.caption_decoder import CaptionPairs, CaptionTrainConfig, fit_caption_decoder

# Paper Table VI ("Audio captioning on AudioCaps and Clotho"): METEOR, SPICE, SPIDEr.
PAPER_TABLE6 = {"LAION-CLAP": (0.115, 0.152, 0.311), "MSCLAP": (0.116, 0.160, 0.326),
                "Q-Audio": (0.118, 0.164, 0.329), "AF (Audio Flamingo)": (0.121, 0.170, 0.336)}

FEATURES = {   # params name -> (row label, what it is)
    "none": "no audio (a constant feature): the decoder's language prior, the floor",
    "clap": "CLAP-style baseline: its audio embedding",
    "audiomae": "AudioMAE S, mean over patches (what both models read)",
    "qaudio": "Q-Audio G (ours)",
}
FEATURES_ORDER = ("qaudio", "clap", "audiomae", "none")   # the table's rows, below the ceiling
CEILING = "another reference caption of the same clip (the references' own agreement), the ceiling"
BATCH = 128


@dataclass
class CaptioningResult:
    """What the captioning notebook shows."""

    table: str
    histories: dict[str, dict[str, list[float]]]
    curves: Figure
    examples: pd.DataFrame
    decoders: dict[str, CaptionDecoder] = field(repr=False)
    parameters: int


@dataclass
class _Clips:
    """Frozen features of the clips ([N, C] per feature name) and their captions."""

    features: dict[str, torch.Tensor]
    captions: list[list[str]]
    ids: list[int]                      # each clip's row in its corpus split

    def take(self, rows: np.ndarray) -> "_Clips":
        return _Clips({k: v[rows] for k, v in self.features.items()}, [self.captions[i] for i in rows],
                      [self.ids[i] for i in rows])


def _feature(name: str, S: torch.Tensor, qaudio: torch.nn.Module, clap: torch.nn.Module) -> torch.Tensor:
    """One frozen feature per clip, [B, C], of a batch of AudioMAE features ``S`` [B, P, C_s]."""
    if name == "qaudio":
        return qaudio.audio_features(S).flatten(1)           # G [B, n_queries * C_g]
    if name == "clap":
        return clap.audio_embedding(S)
    if name == "audiomae":
        return S.mean(1)
    if name == "none":
        return S.new_zeros(len(S), 1)
    raise ValueError(f"unknown caption feature {name!r} (known: {', '.join(FEATURES)})")


@torch.no_grad()
def clip_features(names: list[str], S, qaudio: torch.nn.Module, clap: torch.nn.Module,
                  batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Every named feature of every clip, {name: [N, C] float32}, reading each batch of S
    ([N, P, C_s], possibly computed per batch: the paper profile's) once for all of them."""
    parts: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    for i in range(0, len(S), batch_size):
        s = S[torch.arange(i, min(i + batch_size, len(S)))]
        for n in names:
            parts[n].append(_feature(n, s, qaudio, clap).float().cpu())
    return {n: torch.cat(p) for n, p in parts.items()}


def load_clips(profile: str, names: list[str], cache_features: bool, progress: bool) -> dict[str, _Clips]:
    """Train and test clips' features (every name) and captions, from the trained AudioMAE,
    Q-Audio and CLAP-style baseline."""
    models_dir = paths.profile_dir(profile) / "models"
    mae, qaudio, clap = (load_model(models_dir / n) for n in ("audiomae", "qaudio", "clap_baseline"))
    inputs = load_inputs(mae, paths.corpus_dir(profile), cache_features, progress, FeatureStore(paths.features_dir(profile)),
                         spill_dir=paths.train_state_dir(profile, "captioning", "test_features"))
    return {split: _Clips(clip_features(names, inputs.S[split], qaudio, clap), inputs.captions[split],
                          list(range(len(inputs.captions[split])))) for split in ("train", "test")}


def split_validation(clips: _Clips, n_val: int, seed: int) -> tuple[_Clips, _Clips]:
    """(fit, validation) clips: ``n_val`` training clips held back, chosen by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(clips.captions))
    n_val = min(n_val, len(order) - 1)
    return clips.take(np.sort(order[n_val:])), clips.take(np.sort(order[:n_val]))


@torch.no_grad()
def caption_all(decoder: CaptionDecoder, features: torch.Tensor) -> list[str]:
    device = next(decoder.parameters()).device
    return [c for i in range(0, len(features), BATCH) for c in decoder.generate(features[i:i + BATCH].to(device))]


def pretrained_folder(path: str | None) -> str | None:
    """A pretrained GPT-2 folder from params.yaml: relative paths are from the project's root."""
    if path is None:
        return None
    p = Path(path)
    return str(p if p.is_absolute() else paths.ROOT / p)


def scored_clips(test: _Clips) -> tuple[_Clips, list[list[str]], list[str] | None]:
    """(clips scored, their references, the ceiling's candidates): the clips with at least two
    captions, against all but their first, which is the ceiling's candidate; when fewer than two
    clips have two captions (a corpus of one caption per clip), every clip against all its
    captions, and no ceiling."""
    multi = np.array([i for i, c in enumerate(test.captions) if len(c) >= 2], dtype=int)
    if len(multi) < 2:
        return test, [list(c) for c in test.captions], None
    test = test.take(multi)
    return test, [c[1:] for c in test.captions], [c[0] for c in test.captions]


def run(profile: str, params: dict | None = None, progress: bool = True) -> CaptioningResult:
    """Train one caption decoder per feature, caption the test clips, score them; write Table VI."""
    P = params if params is not None else profile_section("captioning", profile)
    check_keys(P, {"features", "validation_clips", "cache_features", "decoder", "train"}, "captioning")
    names = list(P["features"])
    for n in names:
        if n not in FEATURES:
            raise ValueError(f"captioning.features: unknown feature {n!r} (known: {', '.join(FEATURES)})")
    train_cfg = from_section(CaptionTrainConfig, P["train"], "captioning.train")
    clips = load_clips(profile, names, P["cache_features"], progress)
    fit, val = split_validation(clips["train"], P["validation_clips"], train_cfg.seed)
    test, references, ceiling = scored_clips(clips["test"])
    print(f"{len(fit.captions)} clips to fit, {len(val.captions)} to validate, {len(test.captions)} test clips scored "
          f"({'with a ceiling' if ceiling else 'no ceiling: too few clips with two captions'}); features: " + ", ".join(f"{n} {tuple(clips['train'].features[n].shape[1:])}" for n in names))

    decoders, histories, captions = {}, {}, {}
    decoder_params = {**P["decoder"], "pretrained": pretrained_folder(P["decoder"].get("pretrained"))}
    for n in names:
        cfg = CaptionDecoderConfig(feature_dim=fit.features[n].shape[1], **decoder_params)
        torch.manual_seed(train_cfg.seed)
        decoder = build_decoder(cfg, [c for caps in fit.captions for c in caps], fit.features[n])
        histories[n] = fit_caption_decoder(
            decoder, CaptionPairs.of(fit.features[n], fit.captions), train_cfg, CaptionPairs.of(val.features[n], val.captions),
            desc=f"caption decoder on {n}", progress=progress,
            state_dir=paths.resumable_state_dir(profile, "captioning", n))
        decoders[n], captions[n] = decoder, caption_all(decoder, test.features[n])
    if ceiling is not None:
        captions["ceiling"] = ceiling
    with MeteorScorer() as meteor:
        scores = score_systems(captions, references, meteor)
    write_table6(scores, names, len(test.captions), P)
    examples = pd.DataFrame([{"test clip": test.ids[i], "references": " | ".join(test.captions[i]),
                              **{n: captions[n][i] for n in names}}
                             for i in np.linspace(0, len(test.captions) - 1, 8).astype(int)])
    table = (paths.reports_dir() / "table6_captioning.md").read_text()
    return CaptioningResult(table, histories, saved(plot_curves(histories), "table6_caption_loss"), examples, decoders,
                            n_parameters(next(iter(decoders.values()))))


def write_table6(scores: dict[str, CaptionScore], names: list[str], n_clips: int, P: dict[str, Any]) -> None:
    """``reports/table6_captioning.{md,json}``: METEOR and CIDEr-D per row, with intervals, the paper's numbers beside."""
    spice = spice_unavailable()
    rows = [[CEILING, scores["ceiling"].meteor, scores["ceiling"].cider]] if "ceiling" in scores else []
    rows += [[FEATURES[n], scores[n].meteor, scores[n].cider] for n in FEATURES_ORDER if n in names]
    comparisons = {}
    if "qaudio" in scores and "clap" in scores:
        comparisons["Q-Audio G minus CLAP-style embedding"] = compare(scores["qaudio"], scores["clap"])
    if "qaudio" in scores and "none" in scores:
        comparisons["Q-Audio G minus no audio"] = compare(scores["qaudio"], scores["none"])
    decoder = P["decoder"]
    gpt2 = (f"GPT-2 from the pretrained weights in {decoder['pretrained']}" if decoder.get("pretrained")
            else f"GPT-2's architecture from scratch (layers {decoder['layers']}, width {decoder['dim']}, heads {decoder['heads']}; "
                 "no pretrained GPT-2 offline), a word vocabulary of the training captions")
    notes = [
        "Table VI analog (paper Sec. V-D): a caption decoder trained on each frozen feature, the feature extractors frozen. "
        f"Decoder: a linear map to {decoder['prefix_len']} prefix vectors, then {gpt2}. Same training clips, captions, "
        f"steps ({P['train']['steps']}), batch, learning rate and seed for every feature; greedy decoding.",
        (f"Scored on the {n_clips} test clips with at least two captions, each against all its captions but the first; the "
         "ceiling row scores that first caption against the others. " if "ceiling" in scores else
         f"Scored on all {n_clips} test clips against all their captions (too few clips have two captions for a ceiling row). ")
        + "Our captions are template-made from the clips' events "
        "(hsm_lib/data/captions.py), not human-written as AudioCaps' and Clotho's: numbers are comparable between rows, "
        "not with the paper's.",
        "METEOR: METEOR 1.5 through pycocoevalcap (PTB-tokenised), the corpus aggregate as the paper reports it. CIDEr-D: "
        "pycocoevalcap's CIDEr (which is CIDEr-D). Intervals: 95 % bootstrap over clips (METEOR's aggregate recomputed "
        "per resample).",
        f"Not reported: {spice}.",
        "Paper's Table VI (AudioCaps and Clotho; METEOR / SPICE / SPIDEr): "
        + "; ".join(f"{k} {m:.3f} / {s:.3f} / {sp:.3f}" for k, (m, s, sp) in PAPER_TABLE6.items()) + ".",
    ]
    notes += [f"{k}: METEOR {c['METEOR'].diff.format(3)} ({c['METEOR'].verdict}); CIDEr-D {c['CIDEr-D'].diff.format(3)} "
              f"({c['CIDEr-D'].verdict}); paired bootstrap over clips." for k, c in comparisons.items()]
    data = {"paper_table6": {k: dict(zip(("METEOR", "SPICE", "SPIDEr"), v)) for k, v in PAPER_TABLE6.items()},
            "spice": spice, "clips": n_clips,
            "comparisons": {k: {m: {"diff": float(c.diff), "CI95": [c.diff.lo, c.diff.hi], "p": c.p, "verdict": c.verdict}
                                for m, c in v.items()} for k, v in comparisons.items()}}
    write_table("table6_captioning", "Table VI analog: audio captioning from frozen features",
                ["feature", "METEOR", "CIDEr-D"], rows, notes=notes, data=data, digits=3)


def plot_curves(histories: dict[str, dict[str, list[float]]]) -> Figure:
    """Training and validation loss of each feature's decoder."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (n, h) in enumerate(histories.items()):
        color = plt.cm.tab10(i)
        k = window(len(h["loss"]), 40)
        train = moving_average(h["loss"], k)
        ax.plot(h["step"][k - 1:], train, color=color, alpha=0.5, label=f"{n}: training (mean of {k})")
        if h.get("val_loss"):
            ax.plot(h["val_step"], h["val_loss"], "o-", color=color, label=f"{n}: validation clips")
    ax.set_xlabel("step"); ax.set_ylabel("cross-entropy per caption token"); ax.legend(fontsize=7)
    ax.set_title("Caption decoders: loss on each frozen feature")
    fig.tight_layout()
    return detached(fig)
