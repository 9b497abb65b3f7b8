"""Captioning metrics for the Table VI analog, through ``pycocoevalcap`` (the COCO caption scorers
the audio-captioning literature uses), with bootstrap intervals over clips.

- Tokenisation: the Stanford PTB tokenizer that ``pycocoevalcap`` ships (Java), as every
  published METEOR / CIDEr-D number uses.
- METEOR 1.5 (Java, ``-l en -norm``): the corpus score is the scorer's own aggregate over all
  clips (its matching statistics summed, not a mean of per-clip scores), as the paper reports.
  Its 95 % interval resamples the clips; each resample's aggregate is computed here from the
  scorer's per-clip statistics (:func:`meteor_from_statistics`, METEOR 1.5's formula with its
  English parameters, checked against the scorer's own aggregate to 1e-12 by the tests), since
  asking the Java scorer costs 0.15 s per resample.
- CIDEr-D (``pycocoevalcap``'s ``Cider``: n = 1..4, Gaussian length penalty sigma = 6, clipped
  counts, x10): the corpus score is the mean of the per-clip scores, with the n-grams' document
  frequencies from the references of the clips scored; the interval is the bootstrap of that
  mean with those frequencies held fixed.
- SPICE (and so SPIDEr, the mean of CIDEr-D and SPICE) needs Stanford CoreNLP 3.6.0 and its
  models, which ``pycocoevalcap`` downloads on first use; offline they are absent, and
  :func:`spice_unavailable` says so rather than scoring anything else under that name.

Comparisons of two systems on the same clips resample the same clips for both (paired).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from hsm_lib.eval.stats import LEVEL, N_BOOT, Comparison, Estimate, bootstrap_ci, paired_comparison

# METEOR 1.5's English parameters (``-l en``): alpha, beta, gamma, delta and the weights of its
# four matching stages (exact, stem, synonym, paraphrase).
METEOR_ALPHA, METEOR_BETA, METEOR_GAMMA, METEOR_DELTA = 0.85, 0.20, 0.60, 0.75
METEOR_STAGE_WEIGHTS = np.array([1.0, 0.60, 0.80, 0.60])
METEOR_STATS = 23    # numbers per clip in the scorer's statistics line


def _package_dir() -> Path:
    import pycocoevalcap.meteor.meteor as meteor_module

    return Path(meteor_module.__file__).resolve().parents[1]


def spice_unavailable() -> str | None:
    """None if SPICE could run offline here, else why not (what is missing)."""
    lib = _package_dir() / "spice" / "lib"
    missing = [j for j in ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar") if not (lib / j).is_file()]
    if not missing:
        return None
    return (f"SPICE needs Stanford CoreNLP 3.6.0 ({', '.join(missing)} under pycocoevalcap/spice/lib), which pycocoevalcap "
            "downloads on first use; this machine is offline, so SPICE, and SPIDEr (the mean of CIDEr-D and SPICE), are not "
            "computed")


def check_java() -> None:
    """A clear error when the Java runtime the scorers need is missing."""
    import shutil

    if shutil.which("java") is None:
        raise RuntimeError("the caption metrics (pycocoevalcap's PTB tokenizer and METEOR) need a Java runtime: "
                           "install one, e.g. `apt-get install openjdk-17-jre-headless` (scripts/setup.sh does)")


def ptb_tokenize(texts: Sequence[str]) -> list[str]:
    """Each text lower-cased and tokenised by the PTB tokenizer, punctuation dropped (one Java call)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    if not texts:
        return []
    check_java()
    # the tokenizer writes its progress to stderr; the texts keep their order through the keys
    out = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(texts)})
    return [out[i][0] for i in range(len(texts))]


class MeteorScorer:
    """One METEOR 1.5 Java process for many scorings: per-clip statistics once, then the
    aggregate of any selection of clips (a bootstrap resample). Use as a context manager."""

    def __init__(self) -> None:
        from pycocoevalcap.meteor.meteor import Meteor

        check_java()
        self._meteor = Meteor()

    def __enter__(self) -> "MeteorScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._meteor is not None:
            process = self._meteor.meteor_p
            process.stdin.close()
            process.kill()
            process.wait()
            self._meteor = None

    def _send(self, line: str) -> None:
        process = self._meteor.meteor_p
        process.stdin.write(f"{line}\n".encode())
        process.stdin.flush()

    def _read(self) -> str:
        line = self._meteor.meteor_p.stdout.readline().decode().strip()
        if not line:
            raise RuntimeError("the METEOR scorer (Java) stopped answering")
        return line

    def statistics(self, candidate: str, references: Sequence[str]) -> str:
        """The scorer's matching statistics of one (tokenised) candidate against its references."""
        candidate = candidate.replace("|||", "").replace("  ", " ")
        self._send(" ||| ".join(("SCORE", *references, candidate)))
        return self._read()

    def aggregate(self, statistics: Sequence[str]) -> tuple[float, list[float]]:
        """(corpus METEOR, per-clip METEOR) of the clips whose statistics are given."""
        self._send(" ||| ".join(("EVAL", *statistics)))
        per_clip = [float(self._read()) for _ in statistics]
        return float(self._read()), per_clip


def meteor_from_statistics(stats: np.ndarray) -> np.ndarray:
    """METEOR 1.5's corpus aggregate of clips' statistics, for many selections at once.

    Args:
        stats: [..., N, 23] per-clip statistics lines of the scorer, as numbers: test and
            reference lengths, their function words, then per stage (test content, reference
            content, test function, reference function) matches, then chunks, test and
            reference word matches.
    Returns:
        [...] the aggregate of each selection: the statistics summed over its N clips (a clip
        matched whole in one chunk adds no chunks), then F-mean and fragmentation penalty."""
    stats = np.asarray(stats, np.float64)
    if stats.shape[-1] != METEOR_STATS:
        raise ValueError(f"METEOR statistics have {METEOR_STATS} numbers per clip, got {stats.shape[-1]}")
    stage = stats[..., 4:20].reshape(*stats.shape[:-1], 4, 4)          # [..., N, stage, (tc, rc, tf, rf)]
    test_matches = stage[..., 0].sum(-1) + stage[..., 2].sum(-1)
    ref_matches = stage[..., 1].sum(-1) + stage[..., 3].sum(-1)
    chunks = stats[..., 20]
    whole = (test_matches == stats[..., 0]) & (ref_matches == stats[..., 1]) & (chunks == 1)
    total = stats.sum(-2)                                                # [..., 23]
    total_chunks = np.where(whole, 0.0, chunks).sum(-1)
    st = total[..., 4:20].reshape(*total.shape[:-1], 4, 4)
    d, w = METEOR_DELTA, METEOR_STAGE_WEIGHTS
    test_weighted = (w * (d * st[..., 0] + (1 - d) * st[..., 2])).sum(-1)
    ref_weighted = (w * (d * st[..., 1] + (1 - d) * st[..., 3])).sum(-1)
    test_len = d * (total[..., 0] - total[..., 2]) + (1 - d) * total[..., 2]
    ref_len = d * (total[..., 1] - total[..., 3]) + (1 - d) * total[..., 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = test_weighted / test_len, ref_weighted / ref_len
        f_mean = precision * recall / (METEOR_ALPHA * precision + (1 - METEOR_ALPHA) * recall)
        all_whole = ((st[..., 0].sum(-1) + st[..., 2].sum(-1)) == total[..., 0]) & \
                    ((st[..., 1].sum(-1) + st[..., 3].sum(-1)) == total[..., 1]) & (total_chunks == 1)
        frag = np.where(all_whole, 0.0, total_chunks / ((total[..., 21] + total[..., 22]) / 2))
        score = f_mean * (1 - METEOR_GAMMA * frag ** METEOR_BETA)
    return np.where((precision > 0) & (recall > 0), score, 0.0)


@dataclass
class CaptionScore:
    """One system's captions scored against the references of the same clips.

    meteor, cider: corpus METEOR and CIDEr-D with their 95 % intervals over clips.
    meteor_clip, cider_clip: per-clip scores [N]. meteor_resampled: [B] aggregates of the
    seeded resamples (the same clips for every system scored with the same seed and N)."""

    meteor: Estimate
    cider: Estimate
    meteor_clip: np.ndarray
    cider_clip: np.ndarray
    meteor_resampled: np.ndarray


def resample_indices(n: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """[n_boot, n] clip indices drawn with replacement (seeded: every system gets the same)."""
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def score_captions(candidates: Sequence[str], references: Sequence[Sequence[str]], meteor: MeteorScorer,
                   n_boot: int = N_BOOT, seed: int = 0) -> CaptionScore:
    """Score one caption per clip against that clip's references (raw text: tokenised here)."""
    return score_systems({"": candidates}, references, meteor, n_boot, seed)[""]


def score_systems(systems: dict[str, Sequence[str]], references: Sequence[Sequence[str]], meteor: MeteorScorer,
                  n_boot: int = N_BOOT, seed: int = 0) -> dict[str, CaptionScore]:
    """Every system's captions (one per clip) scored against the same references, with one PTB
    tokenizer call for all of them (the tokenizer reads each line on its own, so the tokens are
    those of separate calls)."""
    for candidates in systems.values():
        if len(candidates) != len(references) or not candidates:
            raise ValueError(f"{len(candidates)} candidates for {len(references)} clips of references")
    if any(not refs for refs in references):
        raise ValueError("every clip needs at least one reference caption")
    tokens = ptb_tokenize([c for candidates in systems.values() for c in candidates]
                          + [r for refs in references for r in refs])
    pos, tokenised = 0, {}
    for name, candidates in systems.items():
        tokenised[name], pos = tokens[pos: pos + len(candidates)], pos + len(candidates)
    refs = []
    for r in references:
        refs.append(tokens[pos: pos + len(r)])
        pos += len(r)
    return {name: _score_tokens(cand, refs, meteor, n_boot, seed) for name, cand in tokenised.items()}


def _score_tokens(cand: list[str], refs: list[list[str]], meteor: MeteorScorer, n_boot: int, seed: int) -> CaptionScore:
    """Tokenised candidates [N] against tokenised references [N][k]: METEOR (corpus aggregate,
    bootstrap interval recomputed from the scorer's statistics) and CIDEr-D (mean of clips)."""
    from pycocoevalcap.cider.cider import Cider

    stats = [meteor.statistics(c, r) for c, r in zip(cand, refs)]
    corpus_meteor, meteor_clip = meteor.aggregate(stats)
    numbers = np.array([[float(x) for x in line.split()] for line in stats])
    rows = resample_indices(len(stats), n_boot, seed)
    resampled = np.concatenate([meteor_from_statistics(numbers[rows[i:i + 100]]) for i in range(0, n_boot, 100)])
    lo, hi = np.quantile(resampled, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    _, cider_clip = Cider().compute_score({i: r for i, r in enumerate(refs)}, {i: [c] for i, c in enumerate(cand)})
    return CaptionScore(Estimate(corpus_meteor, lo, hi, len(stats)), bootstrap_ci(cider_clip, N_BOOT, seed),
                        np.asarray(meteor_clip), np.asarray(cider_clip, np.float64), resampled)


def compare(a: CaptionScore, b: CaptionScore) -> dict[str, Comparison]:
    """A against B on the same clips (higher is better for both metrics): the METEOR difference
    from the paired resamples of the aggregate, and the paired bootstrap of the per-clip CIDEr-D
    differences. "better" / "worse" only when the difference's 95 % interval excludes 0."""
    d = a.meteor_resampled - b.meteor_resampled
    lo, hi = np.quantile(d, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean())))
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "not distinguishable"
    meteor = Comparison(Estimate(float(a.meteor) - float(b.meteor), lo, hi, a.meteor.n), p, verdict)
    return {"METEOR": meteor, "CIDEr-D": paired_comparison(a.cider_clip, b.cider_clip, higher_is_better=True)}
