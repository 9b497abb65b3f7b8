"""Small helpers the stage modules share: loss curves, figure handling, shared setup."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hsm_lib.reporting import save_figure


def window(n: int, points: int) -> int:
    """The moving-average window that leaves about ``points`` points of a curve of ``n``."""
    return max(1, n // points)


def moving_average(values: Sequence[float], k: int) -> np.ndarray:
    """Mean of each run of ``k`` consecutive values ([len(values) - k + 1])."""
    return np.convolve(values, np.ones(k) / k, mode="valid")


def plot_smoothed(ax: Axes, history: dict[str, list[float]], key: str, k: int, *args, **kwargs) -> None:
    """Plot ``history[key]`` against ``history["step"]``, averaged over ``k`` steps."""
    ax.plot(history["step"][k - 1:], moving_average(history[key], k), *args, **kwargs)


def detached(fig: Figure) -> Figure:
    """Hand a figure back without leaving it open in pyplot (a notebook then shows it once, where
    it is displayed, and a long run does not accumulate open figures)."""
    plt.close(fig)
    return fig


def saved(fig: Figure, name: str) -> Figure:
    """Save ``fig`` as ``<reports>/figures/<name>.png`` and return it, detached."""
    save_figure(fig, name)
    return detached(fig)


def loss_figure(history: dict[str, list[float]], ylabel: str, title: str, key: str = "loss", points: int = 40) -> Figure:
    """One smoothed training curve: ``history[key]`` against ``history["step"]``.

    ``title`` may hold ``{k}``, the smoothing window."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    k = window(len(history["step"]), points)
    plot_smoothed(ax, history, key, k)
    ax.set_xlabel("step"); ax.set_ylabel(ylabel); ax.set_title(title.format(k=k))
    return detached(fig)


def n_parameters(model) -> int:
    """Number of parameters of a torch module."""
    return sum(p.numel() for p in model.parameters())
