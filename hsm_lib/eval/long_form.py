"""Long recordings: what joining independently separated windows costs (issue 14, item 3).

A test triplet's mixture, target and interferer (one clip each, the separator's window length) are
each repeated to ``seconds`` (np.resize: the clip, then the clip again from its start), so the long
mixture is still target + interferer. The separator cuts it into overlapping windows and joins
their outputs; the clip itself is one window, with no join. The join cost is a metric on the long
output minus the same metric on the clip's own output repeated to the same length (the same
content, no join), clip by clip. Two local views: ``lsd_at_joins`` scores only the overlaps
(where crossfades act), ``lsd_at_splices`` only a quarter second around each overlap's middle
(where a token splice switches windows).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from hsm_lib.audio import SAMPLE_RATE, window_starts
from hsm_lib.eval.evaluate import HIGHER_IS_BETTER
from hsm_lib.eval.metrics import lsd
from hsm_lib.eval.stats import paired_comparison
from hsm_lib.text.instructions import parse_instruction

JOIN_ROWS = {"waveform": "Ours (extraction), repeated, windows joined by waveform crossfades",
             "tokens": "Ours (extraction), repeated, windows joined by token splices (one codec decode)"}
MIXTURE_SHORT, MIXTURE_LONG = "mixture, one clip", "mixture, repeated"
OURS_SHORT = "Ours (extraction), one clip (one window, no join)"
OURS_SHORT_REPEATED = "Ours (extraction), the clip's output repeated (same content, no join)"
LOCAL = ("lsd_at_joins", "lsd_at_splices")
SPLICE_SECONDS = 0.25        # the span scored around each overlap's middle


def repeated(clips: np.ndarray, samples: int) -> np.ndarray:
    """[N, L] -> [N, samples]: each clip repeated from its start (the last repetition cut)."""
    return np.stack([np.resize(c, samples) for c in clips])


def overlap_regions(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[(start, end)] sample ranges where consecutive windows of ``window`` every ``window - overlap``
    samples overlap within [0, length): where the separator joins them."""
    starts = window_starts(length, window, window - overlap)
    return [(s, min(s + overlap, length)) for s in starts[1:] if s < length]


def splice_regions(regions: list[tuple[int, int]], span: int) -> list[tuple[int, int]]:
    """``span`` samples centred on the middle of each region (a token splice's switch point)."""
    return [((a + b) // 2 - span // 2, (a + b) // 2 + span - span // 2) for a, b in regions]


def lsd_on(outputs: np.ndarray, targets: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    """LSD [N] of ``outputs`` against ``targets`` [N, T] on ``regions`` only (concatenated)."""
    pick = np.concatenate([np.arange(a, b) for a, b in regions])
    return np.array([lsd(o[pick], t[pick]) for o, t in zip(outputs, targets)])


def long_outputs(sep: Any, mixtures: np.ndarray, instructions: list[str], joins: tuple[str, ...] = tuple(JOIN_ROWS),
                 progress: Callable | None = None) -> dict[str, np.ndarray]:
    """Separate each mixture [N, T] (16 kHz) with its instruction, once per join method: join -> [N, T].
    ``sep`` is a :class:`hsm_lib.pipeline.Separator` (not imported: the pipeline sits a layer above).
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


def join_cost(sep: Any, items: list[dict[str, Any]], records: list[dict[str, Any]], seconds: float,
              score: Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray]],
              progress: Callable | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-clip scores of the triplets ``items`` (their extraction instructions from ``records``),
    as clips and repeated to ``seconds``: system -> metric -> [N].

    ``score(outputs, targets, mixtures)`` returns metric -> [N] (the evaluate stage's scorer with
    its judges). The repeated rows add the local metrics (:data:`LOCAL`)."""
    samples = int(round(seconds * SAMPLE_RATE))
    targets = np.stack([it["target"] for it in items])
    mixtures = np.stack([it["mixture"] for it in items])
    texts = [r["instructions"]["extraction"]["text"] for r in records]
    long_t, long_m = repeated(targets, samples), repeated(mixtures, samples)
    short = long_outputs(sep, mixtures, texts, ("waveform",), progress)["waveform"]   # one window: no join either way
    longs = long_outputs(sep, long_m, texts, tuple(JOIN_ROWS), progress)
    joins = overlap_regions(samples, sep.clip_samples, sep.overlap_samples)
    splices = splice_regions(joins, int(SPLICE_SECONDS * SAMPLE_RATE))

    def scored(outputs: np.ndarray, targets_: np.ndarray, mixtures_: np.ndarray, local: bool) -> dict[str, np.ndarray]:
        d = score(outputs, targets_, mixtures_)
        if local:
            d.update(lsd_at_joins=lsd_on(outputs, targets_, joins), lsd_at_splices=lsd_on(outputs, targets_, splices))
        return d

    out = {MIXTURE_SHORT: scored(mixtures, targets, mixtures, False), MIXTURE_LONG: scored(long_m, long_t, long_m, True),
           OURS_SHORT: scored(short, targets, mixtures, False),
           OURS_SHORT_REPEATED: scored(repeated(short, samples), long_t, long_m, True)}
    for join, name in JOIN_ROWS.items():
        out[name] = scored(longs[join], long_t, long_m, True)
    return out


def cost_records(per_clip: dict[str, dict[str, np.ndarray]], metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """The join costs, each a paired bootstrap over the same triplets: each join method minus the
    clip's output repeated (the same content with no join), per metric and local metric; the token
    join minus the waveform join. Records: a, b, metric, n, diff, ci95, p, verdict (for a)."""
    every = (*metrics, *LOCAL)
    pairs = [(name, OURS_SHORT_REPEATED, m) for name in JOIN_ROWS.values() for m in every]
    pairs += [(JOIN_ROWS["tokens"], JOIN_ROWS["waveform"], m) for m in every]
    out = []
    for a, b, m in pairs:
        c = paired_comparison(per_clip[a][m], per_clip[b][m], HIGHER_IS_BETTER.get(m, False))   # local LSDs: lower is better
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
