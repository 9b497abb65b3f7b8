"""Listen and look: the same clips through several systems, as audio players side by side and as
log-mel spectrograms in a grid (notebooks 04 and 05, and the report's listening figure)."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from hsm_lib.audio import SAMPLE_RATE, fbank


def _check(columns: dict[str, np.ndarray]) -> int:
    """The number of clips every column holds (each column [N, L])."""
    counts = {name: len(w) for name, w in columns.items()}
    if not counts or len(set(counts.values())) != 1:
        raise ValueError(f"every column needs the same number of clips, got {counts}")
    return next(iter(counts.values()))


def spectrogram_grid(columns: dict[str, np.ndarray], clip_names: list[str] | None = None,
                     sr: int = SAMPLE_RATE) -> Figure:
    """One row per clip, one column per system: the log-mel (the AudioMAE front end, 10 ms frames)
    of ``columns[system][clip]``; ``columns`` maps a system's name to its outputs [N, L]."""
    n = _check(columns)
    names = clip_names or [f"clip {i}" for i in range(n)]
    fig, axes = plt.subplots(n, len(columns), figsize=(4.6 * len(columns), 2.4 * n), squeeze=False)
    for i in range(n):
        for j, (system, waves) in enumerate(columns.items()):
            wave = np.asarray(waves[i], dtype=np.float32)
            n_frames = max(1, (len(wave) - 400) // 160 + 1)
            ax = axes[i, j]
            ax.imshow(fbank(wave, n_frames, sample_rate=sr).T.numpy(), origin="lower", aspect="auto", cmap="magma",
                      vmin=-15, vmax=5, extent=(0, len(wave) / sr, 0, 128))
            ax.set_title(f"{names[i]}: {system}", fontsize=9)
            ax.set_xlabel("s", fontsize=8); ax.set_ylabel("mel bin", fontsize=8)
    fig.tight_layout()
    return fig


def players_html(columns: dict[str, np.ndarray], clip_names: list[str] | None = None, sr: int = SAMPLE_RATE) -> str:
    """An HTML table of audio players: one row per clip, one column per system (WAVs inlined)."""
    from IPython.display import Audio

    n = _check(columns)
    names = clip_names or [f"clip {i}" for i in range(n)]
    head = "".join(f"<th>{html.escape(s)}</th>" for s in columns)
    rows = []
    for i in range(n):
        # normalize=False: each player plays the level the system produced, not a rescaled one
        cells = "".join(f"<td>{Audio(np.clip(w[i], -1, 1), rate=sr, normalize=False)._repr_html_()}</td>"
                        for w in columns.values())
        rows.append(f"<tr><th>{html.escape(names[i])}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def players(columns: dict[str, np.ndarray], clip_names: list[str] | None = None, sr: int = SAMPLE_RATE):
    """:func:`players_html` as a displayable IPython object."""
    from IPython.display import HTML

    return HTML(players_html(columns, clip_names, sr))
