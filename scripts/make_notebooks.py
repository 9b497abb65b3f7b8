"""Write the pipeline notebooks from their cell sources (keeps them small, reviewable, output-free).

Run: python scripts/make_notebooks.py   (the .ipynb files are committed; this is how they are made)
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def notebook(cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, (kind, src) in enumerate(cells):
        if kind == "md":
            cell = nbf.v4.new_markdown_cell(src.strip())
        else:
            cell = nbf.v4.new_code_cell(src.strip())
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating an unchanged notebook changes no byte
        nb.cells.append(cell)
    return nb


DATA = [
    ("md", """
# 01 · Data: the corpus, triplets and test sets

Paper Sec. IV-A and Table I. We cannot download AudioCaps, Clotho, FSD50K, WavCaps or MUSIC here, so the
`cpu` and `smoke` profiles build an offline corpus of **real recordings** shipped in Debian packages
(drum kits, GCompris instruments/animals/effects, Wesnoth sound effects, LMMS samples, Asterisk speech),
**espeak-ng speech** and **procedural synthesis**. Short recordings are composed into fixed-length clips
with captions; clips whose unified tags do not overlap are mixed into (mixture, target, instruction)
triplets with both instructions (extraction and removal). The `paper` profile reads the paper's corpora
through the importers instead.

Splits are made per *recording*: no recording's audio appears in two splits.
"""),
    ("params", """
# Parameters (papermill overrides these; the defaults are a smoke run).
profile = "smoke"
params = None  # the profile's `data` section of params.yaml; None reads it from params.yaml
"""),
    ("code", """
import json
import logging
import textwrap
import numpy as np
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Audio, Markdown, display

from hsm_lib import paths
from hsm_lib.io import atomic_write_text
from hsm_lib.config import profile_section
from hsm_lib.data.build import DataConfig, build_corpus
from hsm_lib.data.report import table1_markdown, write_table1
from hsm_lib.data.triplets import TripletSet
from hsm_lib.audio import fbank

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
cfg = DataConfig.from_params(params if params is not None else profile_section("data", profile))
# The paper profile reads the paper's corpora unless told to use the offline corpus at paper sizes.
use_corpora = profile == "paper" and not cfg.use_offline_corpus
out_dir = paths.corpus_dir(profile)
cfg
"""),
    ("md", "## Build (recordings → splits → clips → triplets → test sets)"),
    ("code", """
summary = build_corpus(cfg, out_dir, progress=True, use_corpora=use_corpora)
reports = paths.reports_dir(profile)
write_table1(summary, profile, reports)
metrics = {k: summary[k] for k in ("sources_used", "sources_missing", "recordings_per_source", "clips_per_source",
                                   "clips", "triplets", "build_seconds", "disk_bytes")}
atomic_write_text(reports / "data_summary.json", json.dumps(metrics, indent=1) + "\\n")
print(f"built in {summary['build_seconds']} s, {summary['disk_bytes'] / 1e6:.1f} MB on disk")
"""),
    ("md", "## What is in the corpus\n\nRecordings per source and split (a recording is one shipped sound file):"),
    ("code", """
rec_counts = pd.DataFrame(summary["recordings_per_source"]).T.fillna(0).astype(int)[["train", "val", "test"]]
rec_counts.loc["total"] = rec_counts.sum()
rec_counts
"""),
    ("code", """
tags = pd.Series(summary["recordings_per_tag"]).sort_values().tail(40)
fig, axes = plt.subplots(1, 2, figsize=(13, 7), gridspec_kw={"width_ratios": [1, 2]})
rec_counts.drop("total")[["train", "val", "test"]].plot.barh(stacked=True, ax=axes[0], title="recordings per source")
tags.plot.barh(ax=axes[1], logx=True, title=f"recordings per unified tag (top {len(tags)}, log scale)", fontsize=7)
plt.tight_layout()
"""),
    ("md", "## Table I analog: the test sets"),
    ("code", "display(Markdown(table1_markdown(summary, profile)))"),
    ("md", "## A few clips (log-mel, the AudioMAE front end) and their captions"),
    ("code", """
clips = json.loads((out_dir / "clips" / "train.json").read_text())
audio = np.load(out_dir / "clips" / "train.npy", mmap_mode="r")
show = [c for c in clips][:4]
fig, axes = plt.subplots(1, len(show), figsize=(4 * len(show), 3))
for ax, c in zip(np.atleast_1d(axes), show):
    wave = audio[c["index"]].astype(np.float32) / 32768
    ax.imshow(fbank(wave, cfg.fbank_frames).T.numpy(), origin="lower", aspect="auto", cmap="magma")
    ax.set_title(textwrap.fill(c["captions"][0], 40), fontsize=8)
    ax.set_xlabel("frame (10 ms)"); ax.set_ylabel("mel bin")
plt.tight_layout()
"""),
    ("md", "## Triplets: listen to the mixture and the target, with both instructions"),
    ("code", """
mixed = TripletSet(out_dir / "testsets", "mixed")
for i in range(min(3, len(mixed))):
    t = mixed[i]
    ex, rm = t["instructions"]["extraction"]["text"], t["instructions"]["removal"]["text"]
    display(Markdown(f"**{t['id']}** · SNR {t['snr_db']:+.1f} dB · extraction: *{ex}* · removal: *{rm}*"))
    display(Audio(t["mixture"], rate=cfg.sample_rate), Audio(t["target"], rate=cfg.sample_rate))
"""),
    ("code", """
t = mixed[0]
fig, axes = plt.subplots(1, 3, figsize=(14, 3), sharey=True)
for ax, key in zip(axes, ("mixture", "target", "other")):
    ax.imshow(fbank(t[key], cfg.fbank_frames).T.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-15, vmax=5)
    ax.set_title(f"{key}: {textwrap.shorten(t.get(key + '_caption', t['target_caption'] if key == 'target' else ''), 50)}", fontsize=8)
axes[0].set_ylabel("mel bin")
plt.tight_layout()
"""),
]


AUDIOMAE = [
    ("md", """
# 02 · AudioMAE: the local semantic feature S

Paper Sec. III-B1 and Table VII. A ViT masked autoencoder on the log-mel filterbank: 16×16 patches,
80% of them hidden at random, a ViT encoder on the visible ones and a small decoder (the paper follows
MW-MAE: 4 layers, width 384, 8 heads) that reconstructs the hidden ones; the loss is the MSE on per-patch
normalised pixels of the hidden patches. It is pretrained on all training-split audio of the corpus
(source clips and training mixtures, no labels). Without masking, the encoder's output is **S**, the
feature the local separation stage works in.

The paper pretrains ViT-B on AudioSet-2M; the `cpu` profile trains a small ViT for a few minutes on the
offline corpus (sizes in `params.yaml`). Linear probes (Table VII analog) then ask what the features know.
"""),
    ("params", """
# Parameters (papermill overrides these; the defaults are a smoke run).
profile = "smoke"
params = None  # the profile's `audiomae` section of params.yaml; None reads it from params.yaml
"""),
    ("code", """
import logging
import numpy as np
import torch
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from hsm_lib import paths
from hsm_lib.config import profile_section
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.data.build import DataConfig
from hsm_lib.features import corpus_fbanks, fbank_stats
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.train.audiomae import MAETrainConfig, fit_audiomae, train_config_dict
from hsm_lib.eval import probes as pr
from hsm_lib.reporting import save_figure

logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
P = params if params is not None else profile_section("audiomae", profile)
data_cfg = DataConfig.from_params(profile_section("data", profile))
corpus = paths.corpus_dir(profile)
model_cfg = AudioMAEConfig(n_frames=data_cfg.fbank_frames, **P["model"])
train_cfg = MAETrainConfig.from_params(P["train"])
torch.manual_seed(train_cfg.seed)
model = AudioMAE(model_cfg)
print(f"AudioMAE: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
      f"{model_cfg.n_patches} patches ({model_cfg.grid[0]} time x {model_cfg.grid[1]} frequency), mask {model_cfg.mask_ratio}")
model_cfg, train_cfg
"""),
    ("md", "## Pretraining data: every training-split clip and training mixture, as normalised fbanks"),
    ("code", """
train = corpus_fbanks(corpus, "train", tuple(P["train_on"]), model_cfg.n_frames, progress=True)
val = corpus_fbanks(corpus, "val", ("clips",), model_cfg.n_frames, limit=P["val_clips"])
print(f"train {tuple(train.shape)}, val {tuple(val.shape)} ({train.element_size() * train.numel() / 1e6:.0f} MB as float16)")
"""),
    ("md", "## Pretrain"),
    ("code", """
history = fit_audiomae(model, train, val, train_cfg, progress=True)
out_dir = paths.profile_dir(profile) / "models" / "audiomae"
save_checkpoint(out_dir, model, "audiomae", model_cfg.to_dict(),
                {"train": train_config_dict(train_cfg), "train_on": P["train_on"], "history": history,
                 "fbank_stats": dict(zip(("mean", "std"), fbank_stats(corpus)))})
print(f"final validation loss {history['val_loss'][-1]:.3f} (first {history['val_loss'][0]:.3f}); saved {out_dir}")
"""),
    ("code", """
fig, ax = plt.subplots(figsize=(7, 3.5))
k = max(1, len(history["loss"]) // 50)
smooth = np.convolve(history["loss"], np.ones(k) / k, mode="valid")
ax.plot(history["step"][k - 1:], smooth, label=f"train (mean of {k} steps)")
ax.plot(history["val_step"], history["val_loss"], "o-", label="validation (fixed masks)")
ax.set_xlabel("step"); ax.set_ylabel("MSE on hidden patches (normalised pixels)"); ax.legend(); ax.set_title("AudioMAE pretraining")
save_figure(fig, "audiomae_loss")
"""),
    ("md", "## Reconstructions of held-out clips: input, what the encoder sees, what the decoder fills in"),
    ("code", """
test = corpus_fbanks(corpus, "test", ("clips",), model_cfg.n_frames, limit=3).float()
rec = model.reconstruct(test, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(len(test), 3, figsize=(13, 2.6 * len(test)), squeeze=False)
for i in range(len(test)):
    for j, key in enumerate(("input", "masked", "reconstruction")):
        ax = axes[i, j]
        ax.imshow(rec[key][i].T.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-1.5, vmax=1.5)
        ax.set_title(f"test clip {i}: {key}" + (f" ({model_cfg.mask_ratio:.0%} hidden)" if key == "masked" else ""), fontsize=9)
        ax.set_xlabel("frame"); ax.set_ylabel("mel bin")
plt.tight_layout()
save_figure(fig, "audiomae_reconstructions")
"""),
    ("md", "## S, the local semantic feature: one call"),
    ("code", """
with torch.no_grad():
    S = model.features(test[:1])
rows, cols = model_cfg.grid
print(f"S: {tuple(S.shape)} = [batch, (T/P)*(F/P), C_s]; as the paper's T/P x F/P x C_s: {tuple(S.view(1, rows, cols, -1).shape)}")
"""),
    ("md", """
## Table VII analog: linear probes

Three probes on frozen, mean-pooled features (details in `hsm_lib/eval/probes.py`): the unified tag of single
real recordings (ESC-50 analog), spoken digits and letters across speakers (Speech Commands analog, the real
Asterisk speaker is a test speaker) and the pitch class of unseen synthetic notes (NSynth-pitch analog).
Rows: our pretrained AudioMAE, the same encoder at random initialisation, and the time-averaged log-mel.
"""),
    ("code", """
clip_seconds = data_cfg.clip_seconds
Q = P["probes"]
probe_sets = [
    pr.sound_class_probe(corpus, data_cfg, clip_seconds, min_train=Q["min_train"], min_test=Q["min_test"],
                         max_per_class=Q["max_per_class"], seed=data_cfg.seed),
    pr.spoken_word_probe(clip_seconds, n_voices=Q["voices"], words=tuple(Q["words"]) if Q.get("words") else None, seed=data_cfg.seed),
    pr.pitch_class_probe(clip_seconds, n_notes=Q["notes"], seed=data_cfg.seed),
]
display(Markdown("\\n".join(f"- **{p.name}**: {len(p.classes)} classes, {len(p.train_labels)} train / {len(p.test_labels)} test — {p.note}"
                          for p in probe_sets)))
"""),
    ("code", """
mean, std = fbank_stats(corpus)
torch.manual_seed(train_cfg.seed + 1)
random_init = AudioMAE(model_cfg).eval()
extractors = {
    "AudioMAE, pretrained (ours)": pr.audiomae_extractor(model),
    "AudioMAE, random init": pr.audiomae_extractor(random_init),
    "mean log-mel": pr.logmel_extractor(),
}
results = pr.run_probes(probe_sets, extractors, model_cfg.n_frames, mean, std, progress=True)
pr.write_table7(results, probe_sets, profile)
display(Markdown((paths.reports_dir() / "table7_linear_probe.md").read_text()))
"""),
]


QAUDIO = [
    ("md", """
# 03 · Q-Audio: the global semantic feature G, and text-to-audio retrieval

Paper Sec. III-B2 and Table V. Q-Audio is BLIP-2's Q-Former made small: **one** learnable query, **two**
layers whose self-attention is shared by the query and the text branch, and a cross-attention through which
the query reads the frozen AudioMAE features S. The text branch reads the frozen text backbone's features
(FLAN-T5 in the paper; MiniLM offline), so Q-Audio does not have to learn language. Three objectives, weight
1.0 each, each with its own self-attention mask: audio–text contrast (ITC), matching with hard negatives
(ITM) and audio-grounded caption generation (ITG). The query's output alone is **G**, one vector per clip.

A CLAP-style two-tower model trained with ITC alone, on the same inputs and budget, is the baseline of the
Table V analog.
"""),
    ("params", """
# Parameters (papermill overrides these; the defaults are a smoke run).
profile = "smoke"
params = None  # the profile's `qaudio` section of params.yaml; None reads it from params.yaml
"""),
    ("code", """
import json
import logging
import numpy as np
import torch
import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from hsm_lib import paths
from hsm_lib.config import profile_section
from hsm_lib.checkpoint import load_weights, read_config, save_checkpoint
from hsm_lib.features import AudioMAEFeatures, corpus_waves, fbank_stats
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.models.qaudio import QAudio, QAudioConfig, attention_mask
from hsm_lib.models.clap import CLAPBaseline, CLAPConfig
from hsm_lib.text.backbone import TextBackbone
from hsm_lib.train.qaudio import CaptionFeatures, QAudioTrainConfig, caption_vocabulary, fit_pairs
from hsm_lib.eval import retrieval
from hsm_lib.reporting import save_figure

logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
P = params if params is not None else profile_section("qaudio", profile)
corpus = paths.corpus_dir(profile)
models_dir = paths.profile_dir(profile) / "models"
train_cfg = QAudioTrainConfig.from_params(P["train"])

mae_meta = read_config(models_dir / "audiomae", "audiomae")
mae = load_weights(models_dir / "audiomae", AudioMAE(AudioMAEConfig(**mae_meta["config"]))).eval()
for p in mae.parameters():
    p.requires_grad_(False)  # frozen, as in the paper
backbone = TextBackbone(P["text_backbone"])
print(f"frozen AudioMAE: C_s = {mae.cfg.dim}, {mae.cfg.n_patches} patches; frozen text backbone '{backbone.name}': C_t = {backbone.dim}")
"""),
    ("md", "## The three self-attention masks (rows attend to columns; query first, then 6 text positions)"),
    ("code", """
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, obj in zip(axes, ("itc", "itm", "itg")):
    ax.imshow(attention_mask(obj, 1, 6).numpy(), cmap="Greens", vmin=0, vmax=1.3)
    ax.set_title(obj.upper()); ax.set_xticks(range(7), ["Q"] + [f"t{i}" for i in range(6)]); ax.set_yticks(range(7), ["Q"] + [f"t{i}" for i in range(6)])
plt.tight_layout()
"""),
    ("md", "## (clip, caption) pairs and their frozen features"),
    ("code", """
mean, std = fbank_stats(corpus)
captions = {s: [c["captions"] for c in json.loads((corpus / "clips" / f"{s}.json").read_text())] for s in ("train", "test")}
tags = [c["tags"][0] for c in json.loads((corpus / "clips" / "test.json").read_text())]
S = {s: AudioMAEFeatures(mae, corpus_waves(corpus, s, "clips"), mae.cfg.n_frames, mean, std,
                         cache=P["cache_features"], progress=True) for s in ("train", "test")}
print({s: f"{len(S[s])} clips, {sum(map(len, captions[s]))} captions" for s in S})
print("example:", captions["train"][0][0])
"""),
    ("md", "## Pretrain Q-Audio (ITC + ITM + ITG)"),
    ("code", """
all_train_captions = [c for caps in captions["train"] for c in caps]
text_bank = CaptionFeatures(backbone, all_train_captions, cache=P["cache_features"])  # shared by both models
lut = caption_vocabulary(backbone, all_train_captions) if P["itg_vocab"] == "corpus" else None
vocab = int(lut.max()) + 1 if lut is not None else backbone.vocab_size
q_cfg = QAudioConfig(audio_dim=mae.cfg.dim, text_dim=backbone.dim, vocab_size=vocab, backbone_vocab=backbone.vocab_size, **P["model"])
torch.manual_seed(train_cfg.seed)
qaudio = QAudio(q_cfg, vocab_lut=lut)
print(f"Q-Audio: {sum(p.numel() for p in qaudio.parameters()) / 1e6:.2f} M parameters; ITG over {vocab} classes")
q_hist = fit_pairs(qaudio, S["train"], captions["train"], backbone, train_cfg, desc="Q-Audio", text_bank=text_bank)
save_checkpoint(models_dir / "qaudio", qaudio, "qaudio", q_cfg.to_dict(),
                {"text_backbone": P["text_backbone"], "train": P["train"], "history": q_hist})
"""),
    ("md", "## The CLAP-style baseline: same inputs, same data, batch and steps, ITC only"),
    ("code", """
torch.manual_seed(train_cfg.seed)
clap = CLAPBaseline(CLAPConfig(audio_dim=mae.cfg.dim, text_dim=backbone.dim, **P["clap"]))
c_hist = fit_pairs(clap, S["train"], captions["train"], backbone, train_cfg, desc="CLAP-style", text_bank=text_bank)
save_checkpoint(models_dir / "clap_baseline", clap, "clap_baseline", clap.cfg.to_dict(),
                {"text_backbone": P["text_backbone"], "train": P["train"], "history": c_hist})
"""),
    ("code", """
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
k = max(1, len(q_hist["step"]) // 40)
sm = lambda v: np.convolve(v, np.ones(k) / k, mode="valid")
for name in ("itc", "itm", "itg"):
    axes[0].plot(q_hist["step"][k - 1:], sm(q_hist[name]), label=f"Q-Audio {name.upper()}")
axes[0].plot(c_hist["step"][k - 1:], sm(c_hist["itc"]), "k--", label="CLAP-style ITC")
axes[0].set_xlabel("step"); axes[0].set_ylabel("loss"); axes[0].legend(); axes[0].set_title(f"pretraining (mean of {k} steps)")
axes[1].plot(q_hist["step"][k - 1:], sm(q_hist["total"]), label="Q-Audio total (weights 1.0)")
axes[1].set_xlabel("step"); axes[1].legend()
plt.tight_layout()
save_figure(fig, "qaudio_loss")
"""),
    ("md", "## Table V analog: text-to-audio retrieval on the held-out clips"),
    ("code", """
qaudio.eval(); clap.eval()
torch.manual_seed(train_cfg.seed)
untrained = QAudio(q_cfg, vocab_lut=lut).eval()
results, sims = {}, {}
with torch.no_grad():
    results["Q-Audio (ours, ITC + ITM + ITG)"], sims["q"] = retrieval.text_to_audio(qaudio, backbone, S["test"], captions["test"])
    results["Q-Audio, ITC scores re-ranked by ITM (BLIP-2)"] = retrieval.itm_rerank(
        qaudio, backbone, S["test"], captions["test"], sims["q"], top=P["rerank_top"], progress=lambda r: tqdm(r, desc="ITM re-rank", leave=False))
    results["CLAP-style two-tower, ITC only (same budget)"], _ = retrieval.text_to_audio(clap, backbone, S["test"], captions["test"])
    results["Q-Audio, untrained"], _ = retrieval.text_to_audio(untrained, backbone, S["test"], captions["test"])
queries, _ = retrieval.queries_and_relevance(captions["test"])
retrieval.write_table5(results, profile, len(queries), len(S["test"]), P["text_backbone"])
display(Markdown((paths.reports_dir() / "table5_retrieval.md").read_text()))
"""),
    ("md", "## G, the global feature: one vector per clip (t-SNE of the held-out clips, coloured by their first tag)"),
    ("code", """
from sklearn.manifold import TSNE

with torch.no_grad():
    G = torch.cat([qaudio.audio_features(S["test"][torch.arange(i, min(i + 64, len(S["test"])))]) for i in range(0, len(S["test"]), 64)])
print(f"G: {tuple(G.shape)} = [clips, n_queries, C_g]")
xy = TSNE(n_components=2, perplexity=min(30, max(2, len(G) // 4)), init="pca", random_state=0).fit_transform(G[:, 0].numpy())
top = [t for t, _ in __import__("collections").Counter(tags).most_common(10)]
fig, ax = plt.subplots(figsize=(8, 6))
other = np.array([t not in top for t in tags])
ax.scatter(*xy[other].T, s=8, c="lightgrey", label="other tags")
for i, t in enumerate(top):
    sel = np.array([x == t for x in tags])
    ax.scatter(*xy[sel].T, s=14, color=plt.cm.tab10(i), label=t)
ax.legend(fontsize=7, loc="best", markerscale=1.5); ax.set_xticks([]); ax.set_yticks([])
ax.set_title(f"t-SNE of Q-Audio's G on {len(G)} held-out clips ({profile} profile)")
save_figure(fig, "qaudio_tsne")
"""),
]


CODEC = [
    ("md", """
# 04 · The neural codec: causal, group-VQ, 6 kbps

Paper Sec. III-E2 and Table VIII. The acoustic decoder writes codec tokens; this codec turns them into
audio. It is causal (left padding only; one 20 ms frame of latency), quantizes each latent frame with a
**group vector quantizer** (12 groups × 1024 codes = 120 bits per 20 ms frame = 6 kbps), and is trained
with multi-resolution spectral losses plus adversarial training against a **multi-scale mel
discriminator** with feature matching. It trains on all training-split audio, no text. The paper
fine-tunes TF-Codec; its weights are not public, so this is our own codec in its spirit, and Opus at the
same bitrate is the real codec we compare with.
"""),
    ("params", """
# Parameters (papermill overrides these; the defaults are a smoke run).
profile = "smoke"
params = None  # the profile's `codec` section of params.yaml; None reads it from params.yaml
"""),
    ("code", """
import logging
import numpy as np
import torch
import matplotlib.pyplot as plt
from IPython.display import Audio, Markdown, display

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE, fbank
from hsm_lib.config import profile_section
from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.features import corpus_waves, to_float
from hsm_lib.models.codec import Codec, CodecConfig
from hsm_lib.models.codec_losses import DiscriminatorConfig, MultiScaleMelDiscriminator
from hsm_lib.train.codec import CodecTrainConfig, fit_codec
from hsm_lib.eval.codec_eval import codec_roundtrip, evaluate_codecs, write_table8
from hsm_lib.eval.opus import opus_roundtrip
from hsm_lib.reporting import save_figure

logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
P = params if params is not None else profile_section("codec", profile)
corpus = paths.corpus_dir(profile)
cfg = CodecConfig(**P["model"])
train_cfg = CodecTrainConfig.from_params(P["train"])
torch.manual_seed(train_cfg.seed)
codec = Codec(cfg)
disc = MultiScaleMelDiscriminator(DiscriminatorConfig(**P["discriminator"]), cfg.sample_rate)
n_params = sum(p.numel() for p in codec.parameters())
print(f"codec: {n_params / 1e6:.2f} M parameters, hop {cfg.hop} ({1000 * cfg.hop / cfg.sample_rate:.0f} ms), "
      f"{cfg.groups} groups x {cfg.codebook_size} codes = {cfg.bits_per_frame} bits/frame -> {cfg.bitrate / 1000:.1f} kbps")
"""),
    ("md", "## Train on all training-split audio (source clips and training mixtures), no text"),
    ("code", """
mixtures = corpus_waves(corpus, "train", "mixtures")
waves = np.concatenate([np.asarray(corpus_waves(corpus, "train", "clips")),
                        np.round(np.clip(mixtures, -1, 1) * 32767).astype(np.int16)])
del mixtures
history = fit_codec(codec, disc, waves, train_cfg, progress=True)
save_checkpoint(paths.profile_dir(profile) / "models" / "codec", codec, "codec", cfg.to_dict(),
                {"train": P["train"], "bitrate": cfg.bitrate, "history": history})
"""),
    ("code", """
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
k = max(1, len(history["step"]) // 40)
sm = lambda v: np.convolve(v, np.ones(k) / k, mode="valid")
axes[0].plot(history["step"][k - 1:], sm(history["spectral"]), label="multi-resolution spectral")
axes[0].set_xlabel("step"); axes[0].legend(); axes[0].set_title(f"reconstruction (mean of {k} steps)")
for name in ("adv", "fm", "disc"):
    axes[1].plot(history["step"][k - 1:], sm(history[name]), label=name)
axes[1].axvline(train_cfg.adversarial_from, color="grey", ls=":", label="discriminator joins")
axes[1].set_xlabel("step"); axes[1].legend(); axes[1].set_title("adversarial training")
plt.tight_layout()
save_figure(fig, "codec_loss")
"""),
    ("md", "## Table VIII analog: our codec and Opus at the same bitrate, on held-out clips"),
    ("code", """
test = to_float(np.asarray(corpus_waves(corpus, "test", "clips")[: P["eval_clips"]]))
kbps = cfg.bitrate / 1000
systems = {"ours (causal group-VQ codec)": codec_roundtrip(codec),
           f"Opus {kbps:g} kbps (opus-tools)": lambda w: np.stack([opus_roundtrip(x, kbps) for x in w])}
scores = evaluate_codecs(test, systems, visqol_clips=P["visqol_clips"], progress=True)
meta = {"ours (causal group-VQ codec)": {"bitrate_kbps": kbps, "params": f"{n_params / 1e6:.2f}M", "causal": "yes"},
        f"Opus {kbps:g} kbps (opus-tools)": {"bitrate_kbps": kbps, "params": "n/a (DSP)", "causal": "yes (20 ms frames + look-ahead)"}}
write_table8(scores, meta, profile, len(test), P["visqol_clips"])
display(Markdown((paths.reports_dir() / "table8_codec.md").read_text()))
"""),
    ("code", """
recon = {name: run(test[:2]) for name, run in systems.items()}
fig, axes = plt.subplots(2, 3, figsize=(14, 5.5), squeeze=False)
for i in range(2):
    for j, (title, wave) in enumerate([("original", test[i])] + [(n, r[i]) for n, r in recon.items()]):
        n_frames = (len(wave) - 400) // 160 + 1
        axes[i, j].imshow(fbank(wave, n_frames).T.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-15, vmax=5)
        axes[i, j].set_title(f"clip {i}: {title}", fontsize=9)
plt.tight_layout()
save_figure(fig, "codec_spectrograms")
display(Audio(test[0], rate=SAMPLE_RATE), *(Audio(r[0], rate=SAMPLE_RATE) for r in recon.values()))
"""),
]


ACOUSTIC_LM = [
    ("md", """
# 05 · The acoustic LM: from local semantic features S to codec tokens

Paper Sec. III-E1 (Eq. 9–10). An autoregressive transformer decoder generates the codec tokens of a clip
frame by frame, all 12 groups of a frame per step, conditioned on the clip's AudioMAE features S through
cross-attention; start and end tokens frame the sequence. It trains on clean training clips (no mixtures,
no text), teacher-forced with cross-entropy. Generation uses a key/value cache (`scripts/bench_kv_cache.py`
measures what it saves). The notebook ends with the **ceilings** of the generative path on the mixed test
set's targets: codec resynthesis, and target S → acoustic LM → codec.
"""),
    ("params", """
# Parameters (papermill overrides these; the defaults are a smoke run).
profile = "smoke"
params = None  # the profile's `acoustic_lm` section of params.yaml; None reads it from params.yaml
"""),
    ("code", """
import logging
import numpy as np
import torch
import matplotlib.pyplot as plt
from IPython.display import Audio, Markdown, display

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.config import profile_section
from hsm_lib.checkpoint import load_weights, read_config, save_checkpoint
from hsm_lib.data.triplets import TripletSet
from hsm_lib.features import AudioMAEFeatures, corpus_waves, fbank_stats
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.models.codec import Codec, CodecConfig
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig, pad_generated
from hsm_lib.train.acoustic_lm import LMTrainConfig, encode_tokens, fit_acoustic_lm
from hsm_lib.eval.ceilings import ceilings, write_ceilings
from hsm_lib.reporting import save_figure

logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
P = params if params is not None else profile_section("acoustic_lm", profile)
corpus, models_dir = paths.corpus_dir(profile), paths.profile_dir(profile) / "models"
mae = load_weights(models_dir / "audiomae", AudioMAE(AudioMAEConfig(**read_config(models_dir / "audiomae", "audiomae")["config"]))).eval()
codec = load_weights(models_dir / "codec", Codec(CodecConfig(**read_config(models_dir / "codec", "codec")["config"]))).eval()
train_cfg = LMTrainConfig.from_params(P["train"])
clip_samples = corpus_waves(corpus, "train", "clips").shape[1]
frames = -(-clip_samples // codec.cfg.hop)
lm_cfg = AcousticLMConfig(cond_dim=mae.cfg.dim, groups=codec.cfg.groups, codebook_size=codec.cfg.codebook_size,
                          max_frames=frames, max_cond=mae.cfg.n_patches, **P["model"])
torch.manual_seed(train_cfg.seed)
lm = AcousticLM(lm_cfg)
print(f"acoustic LM: {sum(p.numel() for p in lm.parameters()) / 1e6:.2f} M parameters; {frames} frames x {lm_cfg.groups} groups per clip")
"""),
    ("md", "## Training pairs: S and codec tokens of the clean training clips"),
    ("code", """
mean, std = fbank_stats(corpus)
waves = corpus_waves(corpus, "train", "clips")
S = AudioMAEFeatures(mae, waves, mae.cfg.n_frames, mean, std, cache=P["cache_features"], progress=True)
tokens = encode_tokens(codec, waves, progress=True)
print(f"S {len(S)} clips; tokens {tuple(tokens.shape)}")
"""),
    ("code", """
history = fit_acoustic_lm(lm, S, tokens, train_cfg, progress=True)
save_checkpoint(models_dir / "acoustic_lm", lm, "acoustic_lm", lm_cfg.to_dict(), {"train": P["train"], "history": history})
fig, ax = plt.subplots(figsize=(7, 3.5))
k = max(1, len(history["step"]) // 40)
ax.plot(history["step"][k - 1:], np.convolve(history["loss"], np.ones(k) / k, mode="valid"))
ax.set_xlabel("step"); ax.set_ylabel("cross-entropy per token"); ax.set_title(f"acoustic LM (mean of {k} steps)")
save_figure(fig, "acoustic_lm_loss")
"""),
    ("md", "## Ceilings of the generative path on the mixed test set's targets"),
    ("code", """
mixed = TripletSet(corpus / "testsets", "mixed")
n = min(P["eval_clips"], len(mixed))
targets = np.stack([mixed[i]["target"] for i in range(n)])
target_S = AudioMAEFeatures(mae, targets, mae.cfg.n_frames, mean, std, cache=True)
sampling = P["sampling"]
gen = torch.Generator().manual_seed(train_cfg.seed)
silence = codec.encode(torch.zeros(1, codec.cfg.hop))[0, 0]  # [G]: the codec's tokens of a silent frame

def resynthesis(w):
    with torch.no_grad():
        return codec.decode(codec.encode(torch.from_numpy(w)))[:, : w.shape[1]].numpy()

def through_lm(w):
    outs = []
    for i in range(0, len(w), 8):
        idx = torch.arange(i, min(i + 8, len(w)))
        toks, lengths = lm.generate(target_S[idx], frames, temperature=sampling["temperature"], top_k=sampling["top_k"], generator=gen)
        toks = pad_generated(toks, lengths, frames, silence)  # a sequence that ends early continues as silence
        with torch.no_grad():
            outs.append(codec.decode(toks)[:, : w.shape[1]].numpy())
    return np.concatenate(outs)

scores = ceilings(targets, {"codec resynthesis (encode -> decode)": resynthesis,
                            "target S -> acoustic LM -> codec": through_lm}, P["visqol_clips"])
write_ceilings(scores, profile, n, P["visqol_clips"],
               notes=[f"Acoustic LM sampling: temperature {sampling['temperature']}, top-k {sampling['top_k']}."])
display(Markdown((paths.reports_dir() / "ceilings_acoustic.md").read_text()))
"""),
]


def main() -> None:
    NB_DIR.mkdir(exist_ok=True)
    nbf.write(notebook(DATA), NB_DIR / "01_data.ipynb")
    nbf.write(notebook(AUDIOMAE), NB_DIR / "02_audiomae.ipynb")
    nbf.write(notebook(QAUDIO), NB_DIR / "03_qaudio.ipynb")
    nbf.write(notebook(CODEC), NB_DIR / "04_codec.ipynb")
    nbf.write(notebook(ACOUSTIC_LM), NB_DIR / "05_acoustic_lm.ipynb")


if __name__ == "__main__":
    main()
