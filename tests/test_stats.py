"""Bootstrap intervals and paired comparisons (hsm_lib/eval/stats.py), and how tables carry them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hsm_lib.eval.stats import Estimate, bootstrap_ci, paired_comparison


def test_interval_holds_the_mean_and_narrows_with_more_clips():
    rng = np.random.default_rng(0)
    small, large = bootstrap_ci(rng.normal(2.0, 1.0, 25)), bootstrap_ci(rng.normal(2.0, 1.0, 400))
    assert small.lo < float(small) < small.hi and large.lo < float(large) < large.hi
    ratio = (small.hi - small.lo) / (large.hi - large.lo)
    assert 2.5 < ratio < 6.0   # width ~ 1 / sqrt(N): sqrt(400 / 25) = 4
    assert small.n == 25 and large.n == 400


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = [(e := bootstrap_ci(rng.exponential(1.0, 60), n_boot=1000, seed=k)).lo <= 1.0 <= e.hi for k in range(300)]
    assert 0.88 <= np.mean(covered) <= 0.99   # percentile bootstrap on a skewed law, N = 60


def test_intervals_are_reproducible_and_reject_non_finite_values():
    x = np.random.default_rng(2).normal(size=30)
    a, b = bootstrap_ci(x), bootstrap_ci(x)
    assert (a.lo, a.hi) == (b.lo, b.hi)
    with pytest.raises(ValueError, match="not finite"):
        bootstrap_ci([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([])
    one = bootstrap_ci([3.0])
    assert float(one) == 3.0 and np.isnan(one.lo)


def test_paired_comparison_sees_a_small_consistent_shift_that_unpaired_intervals_miss():
    rng = np.random.default_rng(3)
    b = rng.normal(0.0, 3.0, 50)            # large clip-to-clip spread
    a = b + 0.3 + rng.normal(0.0, 0.1, 50)  # every clip a little higher
    ea, eb = bootstrap_ci(a), bootstrap_ci(b)
    assert ea.lo < eb.hi                     # the per-system intervals overlap...
    up = paired_comparison(a, b, higher_is_better=True)
    assert up.verdict == "better" and up.p < 0.01 and up.diff.lo > 0   # ...the paired test does not
    assert paired_comparison(a, b, higher_is_better=False).verdict == "worse"
    assert paired_comparison(b, a, higher_is_better=True).verdict == "worse"


def test_no_difference_is_not_distinguishable():
    rng = np.random.default_rng(4)
    a = rng.normal(size=40)
    same = paired_comparison(a, a + rng.normal(0, 1e-3, 40) * np.sign(rng.normal(size=40)), True)
    noisy = paired_comparison(a, rng.permutation(a), True)
    assert same.verdict == noisy.verdict == "not distinguishable" and noisy.p > 0.05
    with pytest.raises(ValueError, match="same clips"):
        paired_comparison(a, a[:-1], True)


def test_tables_print_the_interval_and_json_keeps_the_mean(tmp_path):
    from hsm_lib.reporting import write_table

    e = Estimate(1.2345, 1.0, 1.5, 10)
    assert isinstance(e, float) and e + 1 == pytest.approx(2.2345)
    md = write_table("t", "title", ["set", "KL"], [["mixed", e]], digits=2, reports=tmp_path).read_text()
    assert "| mixed | 1.23 [1.00, 1.50] |" in md
    row = json.loads((tmp_path / "t.json").read_text())["rows"][0]
    assert row == {"set": "mixed", "KL": pytest.approx(1.2345), "KL CI95": [1.0, 1.5]}


def test_orderings_state_each_pair_with_its_test():
    from hsm_lib.eval.evaluate import MIXTURE, ordering_records, ordering_rows

    rng = np.random.default_rng(5)
    base = rng.normal(5.0, 2.0, 30)
    per_clip = {"mixed": {MIXTURE: {"kl": base, "clap": base * 0},
                          "Ours (extraction)": {"kl": base - 1.0 + rng.normal(0, 0.1, 30), "clap": base * 0 + 0.1},
                          "Ours (removal)": {"kl": base + rng.normal(0, 0.1, 30) * 0, "clap": base * 0}}}
    recs = ordering_records(per_clip, ["mixed"], ("kl", "clap"))
    verdict = {(r["a"], r["b"], r["metric"]): r["verdict"] for r in recs}
    assert verdict[("Ours (extraction)", MIXTURE, "kl")] == "better"       # lower KL is better
    assert verdict[("Ours (extraction)", MIXTURE, "clap")] == "better"
    assert verdict[("Ours (removal)", MIXTURE, "kl")] == "not distinguishable"
    assert verdict[("Ours (removal)", "Ours (extraction)", "kl")] == "worse"
    assert all(r["n"] == 30 for r in recs)
    assert not any("BASELINE" in r["a"] or "ResUNet" in r["b"] for r in recs)   # absent systems are skipped
    rows = ordering_rows(recs, ("kl", "clap"))
    assert rows[0][:3] == ["mixed", 30, f"Ours (extraction) vs {MIXTURE}"] and rows[0][3].endswith("better")
