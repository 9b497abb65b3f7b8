"""The long-recording evaluation's plumbing: repetition, where the joins are, scoring only them,
and the paired join costs."""

from __future__ import annotations

import numpy as np
import pytest

from hsm_lib.eval import long_form as lf


def test_repeated_starts_again_from_the_clip_start():
    clips = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert lf.repeated(clips, 10).tolist() == [[0, 1, 2, 3, 0, 1, 2, 3, 0, 1], [4, 5, 6, 7, 4, 5, 6, 7, 4, 5]]


def test_overlap_regions_are_where_windows_meet():
    # 10 s at 16 kHz in 4-s windows every 3 s: windows [0, 4), [3, 7), [6, 10); joins [3, 4) and [6, 7)
    assert lf.overlap_regions(160000, 64000, 16000) == [(48000, 64000), (96000, 112000)]
    assert lf.overlap_regions(64000, 64000, 16000) == []


def test_lsd_at_joins_scores_only_the_joins():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((1, 160000)).astype(np.float32)
    regions = lf.overlap_regions(160000, 64000, 16000)
    damaged_elsewhere = target.copy()
    damaged_elsewhere[:, :40000] = rng.standard_normal(40000)
    damaged_at_joins = target.copy()
    damaged_at_joins[:, 48000:64000] = rng.standard_normal(16000)
    assert lf.lsd_at_joins(damaged_elsewhere, target, regions)[0] < 1e-3
    assert lf.lsd_at_joins(damaged_at_joins, target, regions)[0] > 0.1


def test_cost_records_pair_each_long_row_with_its_short_counterpart():
    rng = np.random.default_rng(1)
    base = rng.standard_normal(30)
    metrics = {m: base for m in ("kl", "lsd", "psnr", "clap")}
    per_clip = {lf.MIXTURE_SHORT: dict(metrics), lf.MIXTURE_LONG: {**metrics, "lsd_at_joins": base},
                lf.OURS_SHORT: dict(metrics), lf.OURS_SHORT_REPEATED: {"lsd_at_joins": base},
                lf.JOIN_ROWS["waveform"]: {**{m: v + 1.0 for m, v in metrics.items()}, "lsd_at_joins": base + 1.0},
                lf.JOIN_ROWS["tokens"]: {**metrics, "lsd_at_joins": base}}
    records = lf.cost_records(per_clip, ("kl", "lsd", "psnr", "clap"))
    wave_kl = next(r for r in records if r["a"] == lf.JOIN_ROWS["waveform"] and r["b"] == lf.OURS_SHORT and r["metric"] == "kl")
    assert wave_kl["diff"] == pytest.approx(1.0) and wave_kl["verdict"] == "worse"
    tok_vs_wave = next(r for r in records if r["a"] == lf.JOIN_ROWS["tokens"] and r["b"] == lf.JOIN_ROWS["waveform"]
                       and r["metric"] == "lsd_at_joins")
    assert tok_vs_wave["diff"] == pytest.approx(-1.0) and tok_vs_wave["verdict"] == "better"
    assert any("minus" in line for line in lf.cost_lines(records))
