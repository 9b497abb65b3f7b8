"""How the tagger hears a codec's output: KL and embedding cosine against the clean target, with
LSD and mel-PSNR, beside the calibration rows built from the same clips (the codec report's
ablation table and its "as the tagger hears it" table).

KL and cosine are what Tables II-III score separated outputs with (aisfx tagger, UCS head), so a
codec whose resynthesis scores badly here bounds every generative output from below.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hsm_lib.eval.metrics import lsd, mel_psnr
from hsm_lib.eval.stats import bootstrap_ci
from hsm_lib.eval.tagger import embedding_cosine, kl_divergence

METRICS = ("kl", "cos", "lsd", "psnr")
HEADERS = ["KL (lower)", "embedding cosine (higher)", "LSD (lower)", "mel-PSNR (higher)"]


def tagger_scores(outputs: np.ndarray, targets: np.ndarray, tagger: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                  target_tags: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Per-clip KL(target || output), tagger-embedding cosine, LSD and mel-PSNR of ``outputs``
    against ``targets`` (both [N, L], 16 kHz). ``target_tags``: the tagger's (embeddings, log-probs)
    of ``targets``, if already computed."""
    emb_t, logp_t = target_tags if target_tags is not None else tagger(targets)
    emb, logp = tagger(outputs)
    return {"kl": kl_divergence(logp_t, logp), "cos": embedding_cosine(emb_t, emb),
            "lsd": np.array([lsd(o, t) for o, t in zip(outputs, targets)]),
            "psnr": np.array([mel_psnr(o, t) for o, t in zip(outputs, targets)])}


def mean_ci_cells(scores: dict[str, np.ndarray]) -> list[str]:
    """One row's cells, "mean [95 % bootstrap CI]" for each of :data:`METRICS`, from {metric: [N]}."""
    return [bootstrap_ci(scores[k]).format(2) for k in METRICS]
