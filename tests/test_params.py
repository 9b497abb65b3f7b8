"""The profiles in params.yaml: the paper profile holds the paper's data values."""

from __future__ import annotations

from hsm_lib.config import PROFILES, load_params, profile_section
from hsm_lib.data.build import DataConfig


def test_paper_profile_holds_the_papers_data_values():
    d = profile_section("data", "paper")
    assert d["sample_rate"] == 16000  # Sec. IV-A
    assert d["clip_seconds"] == 10.0  # Sec. IV-A
    assert d["snr_db"] == [-15, 15]  # Sec. IV-B
    assert d["snr_db_zero_shot"] == [-5, 5]  # Sec. IV-B, MUSIC
    assert d["test_pairs_per_family"] == 500 and d["test_pairs_mixed"] == 1000 and d["test_pairs_music"] == 500  # Table I
    assert d["test_families"] == ["audiocaps", "clotho", "fsd50k"]
    assert d["triplets"]["train"] == 1_700_000  # 1.7M mixture-target pairs
    assert d["fbank_frames"] == 1024 and d["fbank_frames"] % 16 == 0
    assert d["use_offline_corpus"] is False


def test_profiles_differ_only_in_values():
    params = load_params()
    assert params["profile"] in PROFILES
    keys = {p: set(profile_section("data", p, params)) for p in PROFILES}
    assert keys["smoke"] == keys["cpu"] == keys["paper"]
    for p in PROFILES:
        cfg = DataConfig.from_params(profile_section("data", p, params))
        assert cfg.fbank_frames % 16 == 0
        # The fbank covers the clip: Kaldi frames = (samples - 400) // 160 + 1 <= fbank_frames
        assert (cfg.clip_samples - 400) // 160 + 1 <= cfg.fbank_frames
        assert cfg.snr_db[0] < cfg.snr_db[1]


def test_paper_profile_without_corpora_names_what_is_missing(tmp_path):
    import pytest

    from hsm_lib.data.build import MissingCorpusError, build_corpus

    cfg = DataConfig.from_params(profile_section("data", "paper"))
    cfg.corpora = {"audiocaps": {"metadata": str(tmp_path / "nope"), "audio_root": str(tmp_path / "nope_audio")}}
    with pytest.raises(MissingCorpusError, match="audiocaps") as err:
        build_corpus(cfg, tmp_path / "out", progress=False, use_corpora=True)
    assert "use_offline_corpus" in str(err.value)
    assert not (tmp_path / "out").exists()
