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
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbf.v4.new_markdown_cell(src.strip()))
        else:
            cell = nbf.v4.new_code_cell(src.strip())
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
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


def main() -> None:
    NB_DIR.mkdir(exist_ok=True)
    nbf.write(notebook(DATA), NB_DIR / "01_data.ipynb")


if __name__ == "__main__":
    main()
