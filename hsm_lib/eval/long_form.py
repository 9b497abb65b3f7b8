"""Long recordings: what joining independently separated windows costs (issue: "the 10-s join cost").

A test triplet's 4-s mixture, target and interferer are each repeated to ``seconds`` (np.resize:
the clip, then the clip again from its start), so the long mixture is still target + interferer
and every window of it holds the same kind of content as the clip. The separator cuts it into
windows of its clip length with its overlap, so the output has joins; the 4-s clip has none. The
join cost is a metric on the long outputs minus the same metric on the 4-s outputs of the same
triplets, beside the same difference for the unprocessed mixture (how much the repetition alone
moves the metric). ``lsd_at_joins`` scores only the overlaps, where windows are joined.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.eval.evaluate import HIGHER_IS_BETTER
from hsm_lib.eval.metrics import lsd
from hsm_lib.eval.stats import paired_comparison
from hsm_lib.pipeline import Separator, window_starts
from hsm_lib.text.instructions import parse_instruction

JOIN_ROWS = {"waveform": "Ours (extraction), repeated, windows joined by waveform crossfades",
             "tokens": "Ours (extraction), repeated, windows joined by token splices (one codec decode)"}
MIXTURE_SHORT, MIXTURE_LONG = "mixture, 4-s clip", "mixture, repeated"
OURS_SHORT = "Ours (extraction), 4-s clip (one window, no join)"
OURS_SHORT_REPEATED = "Ours (extraction), 4-s output repeated (same content, no join)"


def repeated(clips: np.ndarray, samples: int) -> np.ndarray:
    """[N, L] -> [N, samples]: each clip repeated from its start (the last repetition cut)."""
    return np.stack([np.resize(c, samples) for c in clips])


def overlap_regions(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[(start, end)] sample ranges where consecutive windows of ``window`` every ``window - overlap``
    samples overlap within [0, length): where the separator joins them."""
    starts = window_starts(length, window, window - overlap)
    return [(s, min(s + overlap, length)) for s in starts[1:] if s < length]


def lsd_at_joins(outputs: np.ndarray, targets: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    """LSD [N] of ``outputs`` against ``targets`` [N, T] on the join regions only (concatenated)."""
    pick = np.concatenate([np.arange(a, b) for a, b in regions])
    return np.array([lsd(o[pick], t[pick]) for o, t in zip(outputs, targets)])


def long_outputs(sep: Separator, mixtures: np.ndarray, instructions: list[str], joins: tuple[str, ...] = tuple(JOIN_ROWS),
                 progress: Callable | None = None) -> dict[str, np.ndarray]:
    """Separate each long mixture [N, T] with its instruction, once per join method: join -> [N, T].
    The separator's ``join`` is restored afterwards."""
    saved, out = sep.join, {}
    try:
        for join in joins:
            sep.join = join
            rows = []
            for m, text in zip(progress(mixtures) if progress else mixtures, instructions):
                parsed = parse_instruction(text)
                rows.append(sep.separate_16k(m, parsed.task, parsed.caption))
            out[join] = np.stack(rows)
    finally:
        sep.join = saved
    return out


def join_cost(sep: Separator, items: list[dict[str, Any]], records: list[dict[str, Any]], seconds: float,
              score: Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray]],
              progress: Callable | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-clip scores of the 4-s and the repeated ``seconds`` versions of the triplets ``items``
    (their extraction instructions from ``records``): system -> metric -> [N].

    ``score(outputs, targets, mixtures)`` returns metric -> [N] (the evaluate stage's scorer with its
    judges). Systems: the mixture at both lengths, Ours on the 4-s clip, and Ours on the long
    recording with each join method; the long rows add ``lsd_at_joins``."""
    samples = int(round(seconds * SAMPLE_RATE))
    targets = np.stack([it["target"] for it in items])
    mixtures = np.stack([it["mixture"] for it in items])
    texts = [r["instructions"]["extraction"]["text"] for r in records]
    long_t, long_m = repeated(targets, samples), repeated(mixtures, samples)
    short = long_outputs(sep, mixtures, texts, ("waveform",), progress)["waveform"]   # one window: no join either way
    longs = long_outputs(sep, long_m, texts, tuple(JOIN_ROWS), progress)
    regions = overlap_regions(samples, sep.clip_samples, sep.overlap_samples)
    out = {MIXTURE_SHORT: score(mixtures, targets, mixtures), OURS_SHORT: score(short, targets, mixtures),
           MIXTURE_LONG: score(long_m, long_t, long_m)}
    out[MIXTURE_LONG]["lsd_at_joins"] = lsd_at_joins(long_m, long_t, regions)
    out[OURS_SHORT_REPEATED] = {"lsd_at_joins": lsd_at_joins(repeated(short, samples), long_t, regions)}
    for join, name in JOIN_ROWS.items():
        out[name] = score(longs[join], long_t, long_m)
        out[name]["lsd_at_joins"] = lsd_at_joins(longs[join], long_t, regions)
    return out


def cost_records(per_clip: dict[str, dict[str, np.ndarray]], metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """The join costs, each a paired bootstrap over the same triplets: every long row minus its
    4-s counterpart per metric (Ours' join methods against Ours on the 4-s clip, the repeated mixture
    against the 4-s mixture), each join method's LSD at the joins against the repeated 4-s output,
    and the token join against the waveform join. Records: a, b, metric, diff, ci95, p, verdict (for a)."""
    pairs = [(name, OURS_SHORT, m) for name in JOIN_ROWS.values() for m in metrics]
    pairs += [(MIXTURE_LONG, MIXTURE_SHORT, m) for m in metrics]
    pairs += [(name, OURS_SHORT_REPEATED, "lsd_at_joins") for name in JOIN_ROWS.values()]
    pairs += [(JOIN_ROWS["tokens"], JOIN_ROWS["waveform"], m) for m in (*metrics, "lsd_at_joins")]
    out = []
    for a, b, m in pairs:
        higher = HIGHER_IS_BETTER.get(m, False)     # lsd_at_joins: lower is better
        c = paired_comparison(per_clip[a][m], per_clip[b][m], higher)
        out.append({"a": a, "b": b, "metric": m, "n": c.diff.n, "diff": float(c.diff), "ci95": [c.diff.lo, c.diff.hi],
                    "p": c.p, "verdict": c.verdict})
    return out


def cost_lines(records: list[dict[str, Any]]) -> list[str]:
    """One note line per (a, b) pair: each metric's A - B [95 % CI] and the verdict for A."""
    by_pair: dict[tuple[str, str], list[str]] = {}
    for r in records:
        by_pair.setdefault((r["a"], r["b"]), []).append(
            f"{r['metric']} {r['diff']:+.3f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}] ({r['verdict']}, p = {r['p']:.3f})")
    return [f"{a} minus {b}: " + "; ".join(cells) + "." for (a, b), cells in by_pair.items()]
