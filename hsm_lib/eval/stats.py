"""Uncertainty of the reported numbers: bootstrap confidence intervals of a mean over clips, and
paired bootstrap comparisons of two systems on the same clips.

Every quality cell of Tables II-IV and the ceilings is a mean over test clips; its 95 % interval
is the percentile bootstrap over those clips. An ordering the report states in words ("Ours is
better than the mixture on KL") is decided by the paired bootstrap of the per-clip differences:
"better" or "worse" only when the difference's 95 % interval excludes 0, otherwise "not
distinguishable". Resampling is seeded, so the reports are reproducible to the digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BOOT = 2000   # bootstrap resamples: the interval's ends move by well under its width's 5 % beyond this
LEVEL = 0.95


class Estimate(float):
    """A mean that carries its 95 % interval: behaves as the float mean, prints as "m [lo, hi]".

    ``reporting.write_table`` writes it as the mean plus a "<column> CI95" [lo, hi] field in JSON,
    so code that reads a report's numbers keeps reading the mean.
    """

    lo: float
    hi: float
    n: int

    def __new__(cls, mean: float, lo: float, hi: float, n: int):
        obj = super().__new__(cls, mean)
        obj.lo, obj.hi, obj.n = float(lo), float(hi), int(n)
        return obj

    def format(self, digits: int) -> str:
        return f"{float(self):.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def _resample_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot] means of ``values`` [N] resampled with replacement (seeded)."""
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1)


def bootstrap_ci(values, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> Estimate:
    """The mean of ``values`` [N] with its percentile-bootstrap interval (NaN ends when N < 2).

    Non-finite values are an error: a mean that silently drops clips is not the mean over the set."""
    values = np.asarray(values, np.float64).ravel()
    if len(values) == 0:
        raise ValueError("no values to average")
    if not np.isfinite(values).all():
        raise ValueError(f"{int((~np.isfinite(values)).sum())} of {len(values)} values are not finite")
    if len(values) < 2:
        return Estimate(values.mean(), np.nan, np.nan, len(values))
    lo, hi = np.quantile(_resample_means(values, n_boot, seed), [(1 - level) / 2, (1 + level) / 2])
    return Estimate(values.mean(), lo, hi, len(values))


@dataclass(frozen=True)
class Comparison:
    """System A against system B on the same clips, for one metric.

    diff: mean over clips of (A - B), with its paired-bootstrap interval.
    p: two-sided bootstrap p-value of "the mean difference is 0".
    verdict: "better", "worse" (for A, given the metric's direction) or "not distinguishable".
    """

    diff: Estimate
    p: float
    verdict: str


def paired_comparison(a, b, higher_is_better: bool, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> Comparison:
    """Compare per-clip scores ``a`` and ``b`` [N] (same clips, same order) by the paired bootstrap."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have the same clips: {a.shape} vs {b.shape}")
    d = a - b
    diff = bootstrap_ci(d, n_boot, seed, level)
    if len(d) < 2:
        return Comparison(diff, float("nan"), "not distinguishable")
    means = _resample_means(d, n_boot, seed)
    # Two-sided: twice the smaller tail of the bootstrap distribution on either side of 0.
    p = float(min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean())))
    if diff.lo > 0 or diff.hi < 0:
        verdict = "better" if (diff.lo > 0) == higher_is_better else "worse"
    else:
        verdict = "not distinguishable"
    return Comparison(diff, p, verdict)
