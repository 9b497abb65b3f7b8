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


def test_splice_regions_centre_on_the_overlaps_middle():
    assert lf.splice_regions([(48000, 64000), (96000, 112000)], 4000) == [(54000, 58000), (102000, 106000)]


def test_lsd_on_scores_only_its_regions():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((1, 160000)).astype(np.float32)
    regions = lf.overlap_regions(160000, 64000, 16000)
    damaged_elsewhere = target.copy()
    damaged_elsewhere[:, :40000] = rng.standard_normal(40000)
    damaged_at_joins = target.copy()
    damaged_at_joins[:, 48000:64000] = rng.standard_normal(16000)
    assert lf.lsd_on(damaged_elsewhere, target, regions)[0] < 1e-3
    assert lf.lsd_on(damaged_at_joins, target, regions)[0] > 0.1


def test_cost_records_compare_each_join_with_the_same_content_unjoined():
    rng = np.random.default_rng(1)
    base = rng.standard_normal(30)
    every = {m: base for m in ("kl", "lsd", "psnr", "clap", *lf.LOCAL)}
    per_clip = {lf.OURS_SHORT_REPEATED: dict(every),
                lf.JOIN_ROWS["waveform"]: {m: v + 1.0 for m, v in every.items()},
                lf.JOIN_ROWS["tokens"]: dict(every)}
    records = lf.cost_records(per_clip, ("kl", "lsd", "psnr", "clap"))
    assert len(records) == 3 * 6
    wave_kl = next(r for r in records if r["a"] == lf.JOIN_ROWS["waveform"] and r["b"] == lf.OURS_SHORT_REPEATED and r["metric"] == "kl")
    assert wave_kl["diff"] == pytest.approx(1.0) and wave_kl["verdict"] == "worse"
    wave_psnr = next(r for r in records if r["a"] == lf.JOIN_ROWS["waveform"] and r["metric"] == "psnr")
    assert wave_psnr["verdict"] == "better"                                  # higher PSNR is better
    tok_vs_wave = next(r for r in records if r["a"] == lf.JOIN_ROWS["tokens"] and r["b"] == lf.JOIN_ROWS["waveform"]
                       and r["metric"] == "lsd_at_splices")
    assert tok_vs_wave["diff"] == pytest.approx(-1.0) and tok_vs_wave["verdict"] == "better"
    assert len(lf.cost_lines(records)) == 3
