"""Stage ``data``: the corpus, triplets and test sets (paper Sec. IV-A, Table I).

Builds the offline corpus (or reads the paper's corpora on the ``paper`` profile), writes
Table I and ``data_summary.json``, and returns what the notebook shows.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.audio import fbank
from hsm_lib.config import profile_section
from hsm_lib.data.build import DataConfig, build_corpus
from hsm_lib.data.report import table1_markdown, write_table1
from hsm_lib.data.triplets import TripletSet
from hsm_lib.io import atomic_write_text
from hsm_lib.stages.common import detached

METRIC_KEYS = ("sources_used", "sources_missing", "recordings_per_source", "clips_per_source",
               "clips", "triplets", "build_seconds", "disk_bytes")


@dataclass
class DataResult:
    """What the data notebook shows."""

    cfg: DataConfig
    corpus: Path
    summary: dict[str, Any]
    table1: str                                   # Table I analog, Markdown
    examples: list[dict[str, Any]] = field(default_factory=list)  # first mixed test triplets


def run(profile: str, params: dict | None = None, progress: bool = True) -> DataResult:
    """Build the corpus under data/<profile>/corpus; write Table I and data_summary.json."""
    cfg = DataConfig.from_params(params if params is not None else profile_section("data", profile))
    # The paper profile reads the paper's corpora unless told to use the offline corpus at paper sizes.
    use_corpora = profile == "paper" and not cfg.use_offline_corpus
    out_dir = paths.corpus_dir(profile)
    summary = build_corpus(cfg, out_dir, progress=progress, use_corpora=use_corpora)
    write_reports(summary, profile)
    print(f"built in {summary['build_seconds']} s, {summary['disk_bytes'] / 1e6:.1f} MB on disk")
    mixed = TripletSet(out_dir / "testsets", "mixed")
    examples = [mixed[i] for i in range(min(3, len(mixed)))]
    return DataResult(cfg, out_dir, summary, table1_markdown(summary, profile), examples)


def write_reports(summary: dict[str, Any], profile: str) -> None:
    """Table I (Markdown + JSON) and the build's metrics (data_summary.json)."""
    reports = paths.reports_dir(profile)
    write_table1(summary, profile, reports)
    metrics = {k: summary[k] for k in METRIC_KEYS}
    atomic_write_text(reports / "data_summary.json", json.dumps(metrics, indent=1) + "\n")


def recordings_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Recordings per source (rows, plus a total) and split (columns train, val, test)."""
    counts = pd.DataFrame(summary["recordings_per_source"]).T.fillna(0).astype(int)[["train", "val", "test"]]
    counts.loc["total"] = counts.sum()
    return counts


def plot_recordings(summary: dict[str, Any], top: int = 40) -> Figure:
    """Recordings per source and split (stacked bars), and per unified tag (the ``top`` most common)."""
    counts = recordings_table(summary)
    tags = pd.Series(summary["recordings_per_tag"]).sort_values().tail(top)
    fig, axes = plt.subplots(1, 2, figsize=(13, 7), gridspec_kw={"width_ratios": [1, 2]})
    counts.drop("total")[["train", "val", "test"]].plot.barh(stacked=True, ax=axes[0], title="recordings per source")
    tags.plot.barh(ax=axes[1], logx=True, title=f"recordings per unified tag (top {len(tags)}, log scale)", fontsize=7)
    fig.tight_layout()
    return detached(fig)


def plot_clips(result: DataResult, n: int = 4) -> Figure:
    """Log-mel (the AudioMAE front end) of the first ``n`` training clips, titled by a caption."""
    clips = json.loads((result.corpus / "clips" / "train.json").read_text())[:n]
    audio = np.load(result.corpus / "clips" / "train.npy", mmap_mode="r")
    fig, axes = plt.subplots(1, len(clips), figsize=(4 * len(clips), 3))
    for ax, c in zip(np.atleast_1d(axes), clips):
        wave = audio[c["index"]].astype(np.float32) / 32768
        ax.imshow(fbank(wave, result.cfg.fbank_frames).T.numpy(), origin="lower", aspect="auto", cmap="magma")
        ax.set_title(textwrap.fill(c["captions"][0], 40), fontsize=8)
        ax.set_xlabel("frame (10 ms)"); ax.set_ylabel("mel bin")
    fig.tight_layout()
    return detached(fig)


def triplet_caption(t: dict[str, Any]) -> str:
    """One line of Markdown: a triplet's id, SNR and both instructions."""
    ex, rm = t["instructions"]["extraction"]["text"], t["instructions"]["removal"]["text"]
    return f"**{t['id']}** · SNR {t['snr_db']:+.1f} dB · extraction: *{ex}* · removal: *{rm}*"


def plot_triplet(t: dict[str, Any], n_frames: int) -> Figure:
    """Log-mel of a triplet's mixture, target and other source, side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3), sharey=True)
    for ax, key in zip(axes, ("mixture", "target", "other")):
        ax.imshow(fbank(t[key], n_frames).T.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-15, vmax=5)
        caption = t.get(key + "_caption", t["target_caption"] if key == "target" else "")
        ax.set_title(f"{key}: {textwrap.shorten(caption, 50)}", fontsize=8)
    axes[0].set_ylabel("mel bin")
    fig.tight_layout()
    return detached(fig)
