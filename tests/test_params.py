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
    # WavCaps' published blacklist keeps AudioCaps and Clotho test clips out of training, and the importer accepts it
    import inspect

    from hsm_lib.data.importers import import_wavcaps
    lists = d["corpora"]["wavcaps"]["exclude_lists"]
    assert any(str(p).endswith("blacklist_exclude_test_ac.json") for p in lists)
    assert "exclude_lists" in inspect.signature(import_wavcaps).parameters


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


def test_paper_path_builds_from_imported_corpus(tmp_path):
    """The paper profile's code path end to end, on a tiny ESC-50 written here in its layout."""
    import numpy as np
    import soundfile as sf

    from hsm_lib.data.build import build_corpus
    from hsm_lib.data.triplets import TripletSet

    classes = ["dog", "rain", "door wood knock", "church bells", "engine"]
    rng = np.random.default_rng(0)
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    (tmp_path / "audio").mkdir()
    for k, cat in enumerate(classes):
        for j in range(10):
            name = f"{j + 1}-{k}{j}-A-{k}.wav"
            tone = np.sin(2 * np.pi * rng.uniform(100, 2000) * np.arange(16000) / 16000) * rng.uniform(0.2, 0.8)
            sf.write(tmp_path / "audio" / name, (tone + 0.01 * rng.standard_normal(16000)).astype(np.float32), 16000)
            rows.append(f"{name},{j % 5 + 1},{k},{cat.replace(' ', '_')},False,{k}{j},A")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")

    cfg = DataConfig.from_params(profile_section("data", "smoke"))
    cfg.clip_seconds, cfg.fbank_frames, cfg.test_pairs_music = 1.0, 112, 0
    cfg.test_families = ["esc50"]
    cfg.corpora = {"esc50": {"metadata": str(tmp_path / "meta" / "esc50.csv"), "audio_root": str(tmp_path / "audio")}}
    summary = build_corpus(cfg, tmp_path / "out", progress=False, use_corpora=True)
    assert summary["sources_used"] == ["esc50"]
    test = TripletSet(tmp_path / "out" / "testsets", "esc50")
    assert len(test) == cfg.test_pairs_per_family
    for r in test.records:
        assert not set(r["target_tags"]) & set(r["other_tags"])
        np.testing.assert_array_equal(test[r["index"]]["mixture"], test[r["index"]]["target"] + test[r["index"]]["other"])
    # ESC-50's held-out fold is the test split: no training clip comes from it.
    import json

    recs = {r["id"]: r for r in json.loads((tmp_path / "out" / "recordings.json").read_text())}
    train_clips = json.loads((tmp_path / "out" / "clips" / "train.json").read_text())
    assert all(recs[rid]["split"] == "train" for c in train_clips for rid in c["recordings"])


def _keys(tree, prefix=""):
    """Every nested key path of a params section."""
    out = set()
    for k, v in tree.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _keys(v, prefix + k + ".")
    return out


def test_model_sections_have_the_same_keys_in_every_profile():
    params = load_params()
    for section in ("audiomae", "qaudio", "codec", "acoustic_lm", "global_sep", "local_sep", "joint_ft", "baselines", "eval_clap", "evaluate"):
        # the codec's ablation variants are a named list each profile picks for itself
        keys = [{k for k in _keys(profile_section(section, p, params)) if not k.startswith("ablation.variants.")}
                for p in PROFILES]
        if section == "acoustic_lm":   # model and train hold the chosen decoder's own settings (lm or nar)
            by_decoder = {}
            for p, k in zip(PROFILES, keys):
                by_decoder.setdefault(profile_section(section, p, params)["decoder"], []).append(k)
            assert all(ks[0] == k for ks in by_decoder.values() for k in ks), section
            keys = [{k for k in ks if not k.startswith(("model.", "train."))} for ks in keys]
        assert keys[0] == keys[1] == keys[2], section


def test_paper_profile_holds_the_papers_representation_sizes():
    from hsm_lib.models.audiomae import AudioMAEConfig
    from hsm_lib.models.qaudio import QAudioConfig

    mae = profile_section("audiomae", "paper")["model"]
    cfg = AudioMAEConfig(n_frames=profile_section("data", "paper")["fbank_frames"], **mae)
    assert (cfg.patch, cfg.mask_ratio) == (16, 0.8)                    # Sec. III-B1: 16x16 patches, 80% masked
    assert (cfg.dim, cfg.depth, cfg.heads) == (768, 12, 12)           # ViT-B encoder
    assert (cfg.decoder_depth, cfg.decoder_dim, cfg.decoder_heads) == (4, 384, 8)  # MW-MAE decoder
    assert cfg.grid == (64, 8) and cfg.n_patches == 512               # 10.24 s x 128 mel -> 64 x 8 patches
    q = profile_section("qaudio", "paper")
    qcfg = QAudioConfig(**q["model"])
    assert qcfg.layers == 2 and qcfg.n_queries == 1                   # Sec. IV-C: two layers, one query
    assert (qcfg.itc_weight, qcfg.itm_weight, qcfg.itg_weight) == (1.0, 1.0, 1.0)  # loss weights 1.0
    assert q["text_backbone"] == "google/flan-t5-base"                # Sec. IV-C: FLAN-T5-base
    assert q["itg_vocab"] == "full"
    # every profile keeps the paper's patch size, masking ratio, one query and loss weights
    for p in PROFILES:
        m = profile_section("audiomae", p)["model"]
        assert (m["patch"], m["mask_ratio"]) == (16, 0.8), p
        qm = profile_section("qaudio", p)["model"]
        assert qm["n_queries"] == 1 and qm["layers"] == 2, p
        assert (qm["itc_weight"], qm["itm_weight"], qm["itg_weight"]) == (1.0, 1.0, 1.0), p


def test_paper_profile_holds_the_papers_acoustic_decoder_sizes():
    from hsm_lib.models.acoustic_lm import AcousticLMConfig
    from hsm_lib.registry import KINDS
    from hsm_lib.train.codec import CodecTrainConfig

    def codec_config(p):
        section = profile_section("codec", p)
        return KINDS[section["kind"]][1](**section["model"])

    codec = codec_config("paper")
    assert profile_section("codec", "paper")["kind"] == "stft_codec"  # Sec. III-E2: TF-Codec works on the STFT
    assert codec.sample_rate == 16000 and codec.bitrate == 6000.0      # Sec. IV-C: 6 kbps at 16 kHz
    assert (codec.hop, codec.groups, codec.codebook_size) == (320, 12, 1024)  # 20 ms x 12 groups x 10 bits
    assert (codec.window, codec.stft_hop, codec.compress) == (320, 80, 0.3)  # TF-Codec: 20 ms / 5 ms, |X|^0.3
    assert (codec.encoder_input, codec.head) == ("complex", "complex")   # TF-Codec: the complex spectrum in and out
    paper_train = CodecTrainConfig.from_params(profile_section("codec", "paper")["train"])
    assert (paper_train.complex_weight, paper_train.mel_weight, paper_train.mel_floor_db) == (0.5, 0.25, None)
    assert profile_section("codec", "paper")["train"]["segment_seconds"] == 3.0  # Sec. IV-A3: 3 s crops
    assert profile_section("acoustic_lm", "paper")["decoder"] == "lm"  # Sec. III-E1: an autoregressive LM
    lm = AcousticLMConfig(**profile_section("acoustic_lm", "paper")["model"])
    assert (lm.layers, lm.heads, lm.dim) == (12, 8, 1024)              # Sec. IV-C
    for p in PROFILES:  # every profile keeps the bitrate, so Table VIII compares like with like
        assert codec_config(p).bitrate == 6000.0, p


def test_paper_profile_holds_the_papers_separation_sizes_and_weights():
    from hsm_lib.train.separation import SepTrainConfig

    h1 = profile_section("global_sep", "paper")
    assert h1["model"]["layers"] == 6                                  # Sec. III-C: a 6-layer NAR transformer
    h2 = profile_section("local_sep", "paper")["model"]
    assert (h2["layers"], h2["heads"], h2["dim"]) == (12, 8, 768)      # Sec. IV-C: 12 layers, 8 heads, 768
    for p in PROFILES:  # the losses' weights and the switcher hold in every profile
        g = SepTrainConfig.from_params(profile_section("global_sep", p)["train"])
        assert (g.lambda_sim, g.lambda_l1) == (1.0, 1.0), p             # Eq. 7: λ1 = λ2 = 1
        j = SepTrainConfig.from_params(profile_section("joint_ft", p)["train"])
        assert j.p_gt == 0.1, p                                        # Sec. III-D: P_gt = 0.1
        assert (j.global_weight, j.local_weight) == (0.1, 1.0), p      # 0.1 L_global + 1.0 L_local
        assert (j.lambda_sim, j.lambda_l1) == (1.0, 1.0), p


def test_paper_profile_trains_the_baseline_as_audiosep():
    """AudioSep's recipe in the paper profile: waveform L1 and the plain ResUNet-FiLM (no frequency
    coordinate, no caption-to-frequency prior, only the extraction target as the query); the cpu
    profile's loss and additions are stated."""
    from hsm_lib.models.resunet import ResUNetConfig
    from hsm_lib.train.baseline import BaselineTrainConfig

    P = profile_section("baselines", "paper")
    train = BaselineTrainConfig.from_params(P["train"])
    assert (train.loss, train.both_sources) == ("l1", False)
    cfg = ResUNetConfig(**P["model"])
    assert (cfg.freq_coord, cfg.freq_prior) == (False, False)
    assert (cfg.n_fft, cfg.hop) == (1024, 160)
