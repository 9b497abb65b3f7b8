"""The shared feature store: S computed once by the audiomae stage equals S computed where it is
used, is refused when the audio changed, and is absent (not empty) where a profile exports none."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hsm_lib.features import (AudioMAEFeatures, FeatureStore, TripletMixtures, TripletTargets, clip_feature_name,
                              export_shared_features, fbank_stats, shared_triplet_features)
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig

L = 8000  # 0.5 s at 16 kHz: 48 Kaldi frames, padded to 64


def tiny_mae() -> AudioMAE:
    torch.manual_seed(0)
    cfg = AudioMAEConfig(n_frames=64, n_mels=128, patch=16, dim=32, depth=1, heads=2, decoder_dim=16, decoder_depth=1,
                         decoder_heads=2)
    return AudioMAE(cfg).eval()


def fake_corpus(root, rng: np.random.Generator):
    """The corpus files export_shared_features reads: clips, training triplets, the mixed test set."""
    audio = lambda *shape: (rng.standard_normal(shape) * 3000).astype(np.int16)  # noqa: E731
    for sub, name, arr in (("clips", "train", audio(5, L)), ("clips", "test", audio(3, L)),
                           ("triplets", "train", audio(4, 2, L)), ("testsets", "mixed", audio(3, 2, L))):
        (root / sub).mkdir(parents=True, exist_ok=True)
        np.save(root / sub / f"{name}.npy", arr)
        if arr.ndim == 3:   # a pre-mixed triplet set's records (TripletSet reads them)
            (root / sub / f"{name}.json").write_text(json.dumps({"name": name, "triplets": [{"index": i} for i in range(len(arr))]}))
    (root / "fbank_stats.json").write_text(json.dumps({"mean": -5.0, "std": 4.0}))


def test_exported_features_equal_computing_them_where_used(tmp_path):
    corpus, dest = tmp_path / "corpus", tmp_path / "features"
    fake_corpus(corpus, np.random.default_rng(0))
    mae = tiny_mae()
    shapes = export_shared_features(mae, corpus, dest)
    assert shapes[clip_feature_name("train")] == [5, mae.cfg.n_patches, 32]
    mean, std = fbank_stats(corpus)
    store = FeatureStore(dest)

    clips = np.load(corpus / "clips" / "train.npy")
    fresh = AudioMAEFeatures(mae, clips, 64, mean, std, cache=True)
    used = AudioMAEFeatures(mae, clips[:3], 64, mean, std, precomputed=store.load(clip_feature_name("train"), clips[:3]))
    assert torch.equal(used[np.arange(3)], fresh[np.arange(3)])  # a prefix, as train_clips / limit ask

    pairs = np.load(corpus / "testsets" / "mixed.npy")
    s_mix, s_tgt = shared_triplet_features(store, "testsets", "mixed", pairs)
    for stored, waves in ((s_mix, TripletMixtures(pairs)), (s_tgt, TripletTargets(pairs))):
        assert torch.equal(stored.float(), AudioMAEFeatures(mae, waves, 64, mean, std).cached.float())
    assert not torch.equal(s_mix, s_tgt)


def test_features_of_other_audio_are_refused(tmp_path):
    corpus, dest = tmp_path / "corpus", tmp_path / "features"
    fake_corpus(corpus, np.random.default_rng(1))
    export_shared_features(tiny_mae(), corpus, dest)
    clips = np.load(corpus / "clips" / "test.npy")
    changed = clips.copy()
    changed[1, 100] += 1
    with pytest.raises(ValueError, match="stale features"):
        FeatureStore(dest).load(clip_feature_name("test"), changed)
    with pytest.raises(ValueError, match="3 rows, 4 asked"):
        FeatureStore(dest).load(clip_feature_name("test"), np.concatenate([clips, clips[:1]]))
    with pytest.raises(ValueError, match="2 rows for 3 waves"):
        AudioMAEFeatures(tiny_mae(), clips, 64, -5.0, 4.0, precomputed=torch.zeros(2, 8, 32))


def test_a_profile_that_exports_nothing_leaves_callers_to_compute(tmp_path):
    corpus, dest = tmp_path / "corpus", tmp_path / "features"
    fake_corpus(corpus, np.random.default_rng(2))
    assert export_shared_features(tiny_mae(), corpus, dest, export=False) == {}
    assert json.loads((dest / "manifest.json").read_text()) == {"shapes": {}}
    pairs = np.load(corpus / "triplets" / "train.npy")
    assert shared_triplet_features(FeatureStore(dest), "triplets", "train", pairs) == (None, None)
