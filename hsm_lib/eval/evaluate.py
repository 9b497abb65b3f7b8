"""Every system on every test set (paper Sec. V-A, V-B; Tables II-IV and the ceilings).

Systems: the ResUNet-FiLM baseline (extraction), Ours_single and Ours, each with the extraction
and the removal instruction of the same triplet (same target); the calibration rows (the target
through Opus 6 kbps, low-passed at 4 kHz, and the interferer as output); and, on the mixed set, the
ceilings: codec resynthesis of the target, the target's S through the acoustic decoder, H2 with
the oracle G_tgt through the acoustic decoder, and the ideal ratio mask. Every output is scored
against the target with KL and the AFSim stand-in (aisfx tagger), LSD and mel-PSNR
(audioldm_eval's definitions), SI-SDRi, and the CLAP score (evaluation CLAP, target caption).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.eval.calibration import CALIBRATION, MIXTURE, calibration_for
from hsm_lib.eval.metrics import Reference, lsd, mel_psnr, si_sdr_improvement
from hsm_lib.eval.stats import bootstrap_ci, paired_comparison
from hsm_lib.eval.tagger import embedding_cosine, kl_divergence

BASELINE = "ResUNet-FiLM (AudioSep architecture, same data)"
# The baseline given each test triplet's neighbour's caption (the set's captions rolled by one): if
# the caption steers the mask, this control scores below the baseline.
CAPTION_SWAP = "ResUNet-FiLM, another triplet's caption (control)"
SYSTEMS = (MIXTURE, *CALIBRATION, BASELINE, CAPTION_SWAP, "Ours_single (extraction)", "Ours (extraction)", "Ours_single (removal)", "Ours (removal)")
CEILINGS = ("codec resynthesis of the target", "target S -> acoustic decoder -> codec", "oracle G_tgt -> H2 -> acoustic decoder",
            "ideal ratio mask (mixture phase)")
METRICS = ("kl", "lsd", "psnr", "si_sdri", "afsim", "clap")


@dataclass
class Judges:
    """What scores an output: the tagger, the evaluation CLAP and the text backbone."""

    tagger: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    eval_clap: torch.nn.Module
    backbone: object

    def caption_embeddings(self, captions: list[str]) -> np.ndarray:
        with torch.no_grad():
            pooled = torch.cat([self.backbone.encode(captions[i:i + 256]).pooled for i in range(0, len(captions), 256)])
            return self.eval_clap.text_embedding(pooled.cpu().float()).numpy()


def score(outputs: np.ndarray, targets: np.ndarray, mixtures: np.ndarray, target_tags: tuple[np.ndarray, np.ndarray],
          caption_emb: np.ndarray, judges: Judges, output_tags: tuple[np.ndarray, np.ndarray] | None = None,
          references: list[Reference] | None = None) -> dict[str, np.ndarray]:
    """Per-clip metrics of ``outputs`` [N, L] against ``targets`` [N, L] (16 kHz); ``output_tags``:
    the tagger's (embeddings, log-posteriors) of ``outputs`` where already computed; ``references``:
    ``targets`` as :class:`~hsm_lib.eval.metrics.Reference` s, when many systems are scored against
    them (their spectra are then computed once; the same numbers)."""
    emb, logp = output_tags if output_tags is not None else judges.tagger(outputs)
    refs = references if references is not None else list(targets)
    with torch.no_grad():
        audio = judges.eval_clap.audio_embedding(torch.as_tensor(emb, dtype=torch.float32)).numpy()
    return {
        "kl": kl_divergence(target_tags[1], logp),
        "lsd": np.array([lsd(o, r) for o, r in zip(outputs, refs)]),
        "psnr": np.array([mel_psnr(o, r) for o, r in zip(outputs, refs)]),
        "si_sdri": np.array([si_sdr_improvement(o, t, m) for o, t, m in zip(outputs, targets, mixtures)]),
        "afsim": embedding_cosine(target_tags[0], emb),
        "clap": (audio * caption_emb).sum(-1),
    }


def own_caption_rate(audio_emb: np.ndarray, caption_emb: np.ndarray, captions: list[str]) -> np.ndarray:
    """Per clip [N]: the fraction of the other clips' (different) captions whose CLAP score on this
    clip's audio is below its own caption's (ties count half). Chance is 0.5; a judge that reads
    the sound scores above it. ``audio_emb``, ``caption_emb``: [N, D] unit-norm embeddings."""
    scores = audio_emb @ caption_emb.T                         # [clip, caption]
    own = np.diag(scores)[:, None]
    different = np.asarray(captions)[None, :] != np.asarray(captions)[:, None]
    wins = (scores < own) + 0.5 * (scores == own)
    return (wins * different).sum(1) / np.maximum(different.sum(1), 1)


def separate_set(examples, h1, h2, single, separator, baseline, baseline_text: torch.Tensor, items: list[dict],
                 ceilings: bool, generator: torch.Generator, batch_size: int = 16, progress: bool = True) -> dict[str, np.ndarray]:
    """Outputs [n_triplets, L] of every system on one test set.

    ``examples`` is a ``SeparationExamples`` (hsm_lib/train/separation.py) with kinds
    (extraction, removal), so example 2i is triplet i's extraction and 2i + 1 its removal."""
    from hsm_lib.models.resunet import ideal_ratio_mask_output
    from hsm_lib.models.nar import predict_global, predict_local

    n = len(items)
    length = items[0]["target"].shape[0]
    out = {k: np.zeros((n, length), np.float32) for k in SYSTEMS + (CEILINGS if ceilings else ())}
    fit = lambda w: np.pad(w, ((0, 0), (0, max(0, length - w.shape[1]))))[:, :length]
    for start in tqdm(range(0, len(examples), batch_size), desc="separating", disable=not progress, leave=False):
        idx = np.arange(start, min(start + batch_size, len(examples)))
        b = examples.batch(idx)
        rows, kinds = idx // 2, np.where(idx % 2 == 0, "extraction", "removal")
        ext = kinds == "extraction"
        with torch.no_grad():
            conds = [predict_local(h2, b, predict_global(h1, b)), predict_local(single, b, None)]
            if ceilings:
                sub = examples.batch(idx[ext])
                conds += [predict_local(h2, sub, sub.g_tgt), sub.s_tgt]
            # One generation for every system of the batch: the acoustic LM's step costs nearly the
            # same for 16 rows as for 48 on a CPU, so this is ~2-3x faster than one call per system.
            waves = np.split(fit(separator.decode(torch.cat(conds), generator)), np.cumsum([len(c) for c in conds])[:-1])
        for j, (r, k) in enumerate(zip(rows, kinds)):
            out[f"Ours ({k})"][r], out[f"Ours_single ({k})"][r] = waves[0][j], waves[1][j]
        if ceilings:
            out[CEILINGS[2]][rows[ext]], out[CEILINGS[1]][rows[ext]] = waves[2], waves[3]
    targets = np.stack([it["target"] for it in items])
    mixtures = np.stack([it["mixture"] for it in items])
    out.update(calibration_for(items))           # the mixture and the calibration rows
    with torch.no_grad():
        for i in range(0, n, batch_size):
            sl = slice(i, min(i + batch_size, n))
            out[BASELINE][sl] = baseline(torch.from_numpy(mixtures[sl]), baseline_text[sl]).numpy()
            out[CAPTION_SWAP][sl] = baseline(torch.from_numpy(mixtures[sl]), baseline_text.roll(1, 0)[sl]).numpy()
            if ceilings:
                codec = separator.codec
                t = torch.from_numpy(targets[sl]).to(separator.device)
                out[CEILINGS[0]][sl] = fit(codec.decode(codec.encode(t)).float().cpu().numpy())
                out[CEILINGS[3]][sl] = ideal_ratio_mask_output(
                    torch.from_numpy(mixtures[sl]), torch.from_numpy(targets[sl]),
                    torch.from_numpy(np.stack([it["other"] for it in items[sl]]))).numpy()
    return out


def mean_table(per_clip: dict[str, dict[str, dict[str, list]]], sets: list[str], systems: tuple[str, ...],
               metrics: tuple[str, ...]) -> list[list]:
    """Rows [test set, n, system, metric means...] from per_clip[set][system][metric]; each mean
    is an :class:`~hsm_lib.eval.stats.Estimate` with its 95 % bootstrap interval over the clips."""
    return [[s, len(per_clip[s][name][metrics[0]]), name, *(bootstrap_ci(per_clip[s][name][m]) for m in metrics)]
            for s in sets for name in systems if name in per_clip[s]]


# The orderings the report states in words: (A, B) pairs compared clip by clip on the same triplets.
ORDERINGS = (
    ("Ours (extraction)", MIXTURE),
    ("Ours (removal)", MIXTURE),
    ("Ours_single (extraction)", MIXTURE),
    ("Ours_single (removal)", MIXTURE),
    (BASELINE, MIXTURE),
    (BASELINE, CAPTION_SWAP),
    ("Ours (extraction)", BASELINE),
    ("Ours (extraction)", "Ours_single (extraction)"),
    ("Ours (removal)", "Ours_single (removal)"),
    ("Ours (removal)", "Ours (extraction)"),
)
HIGHER_IS_BETTER = {"kl": False, "lsd": False, "psnr": True, "si_sdri": True, "afsim": True, "clap": True}


def ordering_records(per_clip: dict[str, dict[str, dict[str, list]]], sets: list[str], metrics: tuple[str, ...],
                     pairs: tuple[tuple[str, str], ...] = ORDERINGS) -> list[dict]:
    """Every pair's paired bootstrap of A - B over the same clips, per metric: records with the
    difference, its 95 % interval, the p-value and the verdict for A ("better", "worse" or "not
    distinguishable"). Pairs with a system missing from a set are skipped."""
    out = []
    for s in sets:
        for a, b in pairs:
            if a not in per_clip[s] or b not in per_clip[s]:
                continue
            for m in metrics:
                c = paired_comparison(per_clip[s][a][m], per_clip[s][b][m], HIGHER_IS_BETTER[m])
                out.append({"test set": s, "a": a, "b": b, "metric": m, "n": c.diff.n, "diff": float(c.diff),
                            "ci95": [c.diff.lo, c.diff.hi], "p": c.p, "verdict": c.verdict})
    return out


def ordering_rows(records: list[dict], metrics: tuple[str, ...]) -> list[list]:
    """Table rows [test set, n, "A vs B", per metric "Δ [lo, hi] verdict"...] from :func:`ordering_records`."""
    rows: dict[tuple[str, str, str], dict[str, dict]] = {}
    for r in records:
        rows.setdefault((r["test set"], r["a"], r["b"]), {})[r["metric"]] = r
    out = []
    for (s, a, b), by_metric in rows.items():
        cells = [f"{c['diff']:.2f} [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}] {c['verdict']}" if (c := by_metric.get(m)) else "-"
                 for m in metrics]
        out.append([s, next(iter(by_metric.values()))["n"], f"{a} vs {b}", *cells])
    return out
