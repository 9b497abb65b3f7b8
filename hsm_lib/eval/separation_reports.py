"""Reports of the separation stages: H1 cosine, H2 L1, joint fine-tuning, and
the figures of Figs. 5 and 6."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hsm_lib.reporting import write_table

TASK_NAMES = ("extraction", "removal")


def _by_task(values: np.ndarray, task: np.ndarray) -> list[float]:
    """[all, extraction, removal] means."""
    return [float(values.mean()), *(float(values[task == t].mean()) if (task == t).any() else float("nan") for t in (0, 1))]


def write_global_table(scores: dict[str, np.ndarray], profile: str, n_triplets: int, notes: Sequence[str] = ()) -> None:
    """``reports/global_sep.{md,json}``: cos(Ĝ, G_tgt) against cos(G_mix, G_tgt)."""
    rows = [["H1 prediction Ĝ vs G_tgt", *_by_task(scores["cos_h1"], scores["task"])],
            ["mixture G_mix vs G_tgt (floor)", *_by_task(scores["cos_mix"], scores["task"])]]
    write_table("global_sep", f"Global-semantic separation H1 on the mixed test set ({profile} profile): cosine similarity to G_tgt",
                ["", "all", "extraction", "removal"], rows, digits=3,
                notes=[f"{n_triplets} test triplets, each with its extraction and its removal instruction (same target).", *notes],
                data={"per_example": {k: v.tolist() for k, v in scores.items()}})


LOCAL_ROWS = {
    "l1_h2": "Ours: H2 conditioned on Ĝ from H1",
    "l1_h2_oracle": "H2 conditioned on the ground-truth G_tgt (oracle G)",
    "l1_single": "Ours_single: H2 without the global stage (text backbone only)",
    "l1_mix": "mixture S_mix vs S_tgt (floor)",
}


def write_local_table(scores: dict[str, np.ndarray], profile: str, n_triplets: int, name: str = "local_sep",
                      title: str | None = None, notes: Sequence[str] = ()) -> None:
    """``reports/<name>.{md,json}``: L1(Ŝ, S_tgt) of each system (lower is better)."""
    rows = [[label, *_by_task(scores[k], scores["task"])] for k, label in LOCAL_ROWS.items() if k in scores]
    write_table(name, title or f"Local-semantic separation H2 on the mixed test set ({profile} profile): L1(Ŝ, S_tgt), lower is better",
                ["system", "all", "extraction", "removal"], rows, digits=4,
                notes=[f"{n_triplets} test triplets, each with its extraction and its removal instruction (same target).", *notes],
                data={"per_example": {k: v.tolist() for k, v in scores.items()}})


def tsne_figure(g_true: np.ndarray, g_pred: np.ndarray, labels: Sequence[str], seed: int = 0, max_classes: int = 10):
    """Fig. 5 analog: t-SNE of ground-truth and predicted G together, coloured by class,
    circles for G_tgt and crosses for Ĝ. Returns the figure."""
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    x = np.concatenate([g_true, g_pred])
    emb = TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed).fit_transform(x)
    n = len(g_true)
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    keep = set(classes[np.argsort(-counts)][:max_classes])
    fig, ax = plt.subplots(figsize=(7.5, 6))
    cmap = plt.get_cmap("tab10")
    for i, c in enumerate(sorted(keep)):
        m = labels == c
        ax.scatter(emb[:n][m, 0], emb[:n][m, 1], marker="o", s=28, color=cmap(i % 10), label=c, alpha=0.8)
        ax.scatter(emb[n:][m, 0], emb[n:][m, 1], marker="x", s=28, color=cmap(i % 10), alpha=0.8)
    other = ~np.isin(labels, list(keep))
    if other.any():
        ax.scatter(emb[:n][other, 0], emb[:n][other, 1], marker="o", s=12, color="0.7", label="other classes")
        ax.scatter(emb[n:][other, 0], emb[n:][other, 1], marker="x", s=12, color="0.7")
    ax.set_title("t-SNE of G: ground truth G_tgt (o) and H1's prediction Ĝ (x)")
    ax.legend(fontsize=7, loc="best", ncol=2)
    ax.set_xticks([]), ax.set_yticks([])
    return fig


def attention_figure(examples: list[dict], grid: tuple[int, int]):
    """Fig. 6 analog. ``examples``: dicts with "mix_fbank", "tgt_fbank" ([T, F]), "att_true",
    "att_pred" ([P] attention of the global token over the patches, with G_tgt and with Ĝ),
    "title". Rows: one example each; columns: mixture, target, attention (G_tgt), attention (Ĝ)."""
    import matplotlib.pyplot as plt

    rows, cols = grid
    fig, axes = plt.subplots(len(examples), 4, figsize=(14, 2.6 * len(examples)), squeeze=False)
    for r, ex in enumerate(examples):
        panels = [(ex["mix_fbank"].T, "mixture (fbank)"), (ex["tgt_fbank"].T, "target (fbank)"),
                  (ex["att_true"].reshape(rows, cols).T, "global token's attention, G = G_tgt"),
                  (ex["att_pred"].reshape(rows, cols).T, "global token's attention, G = Ĝ")]
        for c, (img, name) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(img, origin="lower", aspect="auto", cmap="magma" if c < 2 else "viridis")
            ax.set_title(name if r == 0 else "", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        axes[r, 0].set_ylabel(ex["title"], fontsize=8, rotation=0, ha="right", va="center", wrap=True)
    fig.tight_layout()
    return fig
