"""Fig. 7 analog: log-mel spectrograms of separated examples (paper Sec. V-D)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from hsm_lib.audio import fbank
from hsm_lib.eval.examples_store import ExampleSet

PANELS = ("mixture", "target", "Ours (extraction)", "Ours (removal)")


def draw(examples: ExampleSet, rows: int = 3) -> Figure:
    """One row per kept example of ``examples`` (at most ``rows``): the mixture, the target and
    Ours' outputs for the extraction and for the removal instruction (titled with the instruction),
    as Kaldi log-mel filterbanks (AudioMAE's input, 10-ms frames)."""
    n = min(rows, len(examples))
    if n == 0:
        raise ValueError(f"test set {examples.name!r} kept no examples to draw")
    fig, axes = plt.subplots(n, len(PANELS), figsize=(15, 2.8 * n), squeeze=False)
    for r in range(n):
        ins = examples.examples[r]["instructions"]
        waves = {"mixture": examples.mixture[r], "target": examples.target[r],
                 **{s: examples.outputs[s][r] for s in PANELS[2:]}}
        titles = {"mixture": "mixture", "target": "target", "Ours (extraction)": ins["extraction"]["text"],
                  "Ours (removal)": ins["removal"]["text"]}
        for c, panel in enumerate(PANELS):
            ax, w, title = axes[r, c], waves[panel], titles[panel]
            ax.imshow(fbank(w, len(w) // 160).T.numpy(), origin="lower", aspect="auto", cmap="magma")
            ax.set_title(title if len(title) < 60 else title[:57] + "...", fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"Fig. 7 analog: {examples.name} test set, log-mel (mixture, target, extraction, removal)", fontsize=10)
    fig.tight_layout()
    return fig
