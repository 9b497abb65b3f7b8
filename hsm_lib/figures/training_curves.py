"""Every trained model's loss curves in one figure, from ``reports/curves/*.tsv``."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def read_tsv(path: Path) -> dict[str, np.ndarray]:
    """A curve file (header line, tab-separated numbers) -> column -> values."""
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    values = np.array([[float(x) for x in line.split("\t")] for line in lines[1:]]).reshape(-1, len(header))
    return {c: values[:, i] for i, c in enumerate(header)}


def smooth(y: np.ndarray, points: int = 60) -> tuple[slice, np.ndarray]:
    """A moving average leaving about ``points`` points: (the slice of x it aligns with, values)."""
    k = max(1, len(y) // points)
    return slice(k - 1, None), np.convolve(y, np.ones(k) / k, mode="valid")


def draw(curves: Path) -> Figure:
    """One panel per model (its ``<model>.tsv``, and its validation points from
    ``<model>_val.tsv`` where present): every loss column against the step, smoothed; on a log
    scale where a few steps' losses are far above the rest."""
    files = sorted(p for p in curves.glob("*.tsv") if not p.stem.endswith("_val"))
    if not files:
        raise FileNotFoundError(f"no training curves in {curves} (the report stage writes them)")
    cols = 4
    rows = math.ceil(len(files) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, path in zip(axes.flat, files):
        data = read_tsv(path)
        spread = []
        for name, y in data.items():
            if name != "step" and np.any(y != 0):
                where, ys = smooth(y)
                ax.plot(data["step"][where], ys, label=name, lw=1)
                spread.append(np.all(ys > 0) and ys.max() > 20 * np.median(ys))
        if any(spread):
            # rare huge steps (e.g. the codec's loss on a near-silent batch) would flatten the rest
            ax.set_yscale("log")
        val = path.with_name(f"{path.stem}_val.tsv")
        if val.is_file():
            v = read_tsv(val)
            for name, y in v.items():
                if name != "step":
                    ax.plot(v["step"], y, "o-", ms=3, label=name)
        ax.set_title(path.stem, fontsize=9); ax.set_xlabel("step", fontsize=8); ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(files):]:
        ax.set_axis_off()
    fig.suptitle("Training curves (moving averages), from reports/curves", fontsize=10)
    fig.tight_layout()
    return fig
