"""Streaming storage and reads: a records triplet set gives the pre-mixed set's samples, and every
streaming read (mixtures, fbanks, separation examples) equals its held counterpart."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from hsm_lib.data.build import DataConfig, build_corpus
from hsm_lib.data.streaming import JsonlRecords, MixedPairs
from hsm_lib.data.triplets import TripletSet, TripletSpec, write_triplet_set
from hsm_lib.features import (FbankRows, StackedRows, TripletMixtures, corpus_fbanks, corpus_waves, fbank_stats,
                              fbanks)


@pytest.fixture(scope="module")
def records_corpus(smoke_cfg, tmp_path_factory):
    """The smoke corpus again, its training triplets stored as records."""
    out = tmp_path_factory.mktemp("records") / "corpus"
    build_corpus(dataclasses.replace(smoke_cfg, triplet_storage="records"), out, progress=False)
    return out


@pytest.mark.slow
def test_records_storage_gives_the_premixed_samples(smoke_corpus, records_corpus):
    premixed_dir, _ = smoke_corpus
    for split in ("train", "val"):
        a, b = TripletSet(premixed_dir / "triplets", split), TripletSet(records_corpus / "triplets", split)
        assert (a.storage, b.storage) == ("premixed", "records")
        assert not (records_corpus / "triplets" / f"{split}.npy").exists()     # no audio stored per triplet
        assert isinstance(b.audio, MixedPairs) and isinstance(b.records, JsonlRecords)
        assert b.audio.shape == a.audio.shape and len(b) == len(a)
        assert np.array_equal(np.asarray(b.audio), np.asarray(a.audio))
        assert list(b.records) == a.records
        i = len(a) // 2
        assert all(np.array_equal(a[i][k], b[i][k]) for k in ("mixture", "target", "other"))
        # slices are views (nothing mixed), index arrays mix just those rows
        view = b.audio[2:5]
        assert isinstance(view, MixedPairs) and np.array_equal(np.asarray(view), np.asarray(a.audio[2:5]))
        assert np.array_equal(b.audio[np.array([4, 1])], a.audio[np.array([4, 1])])
        assert np.array_equal(b.audio[3, :, 10:50], a.audio[3, :, 10:50])      # a crop, as the baseline reads one
        assert np.array_equal(b.audio[1:4, 1], a.audio[1:4, 1])
        assert b.records[1:3][1] == a.records[2] and len(b.records[1:3]) == 2
    # everything but the triplets is the same corpus
    for name in ("clips/train.npy", "testsets/mixed.npy", "fbank_stats.json"):
        assert (premixed_dir / name).read_bytes() == (records_corpus / name).read_bytes()


def test_records_need_a_stored_clip_array(tmp_path, smoke_cfg):
    clips = np.zeros((2, 100), np.int16)
    with pytest.raises(ValueError, match="clips_file"):
        write_triplet_set(tmp_path, "x", [TripletSpec(0, 1, 0.0)], [], clips, None, storage="records")
    with pytest.raises(ValueError, match="one of"):
        write_triplet_set(tmp_path, "x", [], [], clips, None, storage="zipped")
    with pytest.raises(ValueError, match="triplet_storage"):
        DataConfig.from_params({**dataclasses.asdict(smoke_cfg), "triplet_storage": "zipped"})


@pytest.mark.slow
def test_streamed_fbanks_equal_the_held_ones(records_corpus):
    held = corpus_fbanks(records_corpus, "train", ("clips", "mixtures"), 208)
    streamed = corpus_fbanks(records_corpus, "train", ("clips", "mixtures"), 208, cache=False)
    assert isinstance(streamed, FbankRows) and len(streamed) == len(held)
    rows = np.array([0, len(held) - 1, 5, len(held) // 2 + 3])
    assert torch.allclose(streamed[rows], held[torch.as_tensor(rows)].float(), atol=2e-3)   # held is float16
    assert torch.allclose(streamed[1:3], held[1:3].float(), atol=2e-3)
    limited = corpus_fbanks(records_corpus, "val", ("clips",), 208, limit=3, cache=False)
    assert len(limited) == 3


def test_stacked_rows_read_across_parts():
    a, b = np.arange(12).reshape(3, 4), 100 + np.arange(8).reshape(2, 4)
    rows = StackedRows(a, b)
    assert rows.shape == (5, 4) and len(rows) == 5
    assert np.array_equal(np.stack([rows[j] for j in range(5)]), np.concatenate([a, b]))
    assert np.array_equal(rows[3, 1:3], b[0, 1:3])
    with pytest.raises(IndexError):
        rows[5]
    with pytest.raises(ValueError, match="lengths"):
        StackedRows(a, np.zeros((1, 3)))


@pytest.mark.slow
def test_mixtures_read_per_row_equal_the_whole_cast(records_corpus):
    m = corpus_waves(records_corpus, "train", "mixtures")
    pairs = np.asarray(TripletSet(records_corpus / "triplets", "train").audio)
    whole = pairs.astype(np.float32).sum(axis=1) / 32768.0
    assert isinstance(m, TripletMixtures) and m.shape == whole.shape
    assert np.array_equal(m[3], whole[3]) and np.array_equal(m[np.array([1, 0])], whole[[1, 0]])
    assert np.array_equal(np.asarray(m[2:4]), whole[2:4])
    mean, std = fbank_stats(records_corpus)
    assert torch.equal(fbanks(m[:2], 208, mean, std), fbanks(whole[:2], 208, mean, std))


@pytest.mark.slow
def test_separation_examples_stream_what_they_would_hold(records_corpus):
    from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
    from hsm_lib.models.qaudio import QAudio, QAudioConfig
    from hsm_lib.text.backbone import TextBackbone
    from hsm_lib.train.separation import SeparationExamples

    torch.manual_seed(0)
    mae = AudioMAE(AudioMAEConfig(n_frames=208, patch=16, dim=32, depth=1, heads=2, decoder_dim=16, decoder_depth=1,
                                  decoder_heads=2)).eval()
    backbone = TextBackbone("minilm")
    qaudio = QAudio(QAudioConfig(audio_dim=32, text_dim=backbone.dim, dim=32, layers=1, heads=2, n_queries=1, embed_dim=16,
                                 vocab_size=11, backbone_vocab=11, max_text_tokens=64)).eval()
    triplets = TripletSet(records_corpus / "triplets", "train")
    mean, std = fbank_stats(records_corpus)
    held = SeparationExamples(triplets, mae, mean, std, qaudio, backbone, cache=True, limit=6)
    streamed = SeparationExamples(triplets, mae, mean, std, qaudio, backbone, cache=False, limit=6)
    assert len(held) == len(streamed) == 12
    assert list(streamed.triplet) == list(held.triplet) and list(streamed.instructions) == list(held.instructions)
    idx = np.array([11, 0, 5, 6])
    a, b = held.batch(idx), streamed.batch(idx)
    assert torch.equal(a.task, b.task)
    for x, y in ((a.s_mix, b.s_mix), (a.s_tgt, b.s_tgt), (a.g_tgt, b.g_tgt), (a.cond_text.text, b.cond_text.text), (a.cond.text, b.cond.text)):
        assert torch.allclose(x, y, atol=2e-2)   # the held features are float16


def test_baseline_caption_embeddings_of_a_records_set_are_encoded_per_batch(smoke_corpus, records_corpus):
    """The paper profile's records set gets its captions encoded per batch (no [N, C_t] held), equal to
    the embeddings the pre-mixed set computes once, row for row, for the extraction and removal captions."""
    from hsm_lib.stages.baselines import CaptionEmbeddings, caption_embeddings
    from hsm_lib.text.backbone import TextBackbone

    backbone = TextBackbone("minilm")
    premixed_dir, _ = smoke_corpus
    held_set, streamed_set = TripletSet(premixed_dir / "triplets", "train"), TripletSet(records_corpus / "triplets", "train")
    rows = torch.tensor([7, 0, 3, 7])
    for instruction in ("extraction", "removal"):
        held = caption_embeddings(backbone, held_set, instruction)
        streamed = caption_embeddings(backbone, streamed_set, instruction)
        assert isinstance(held, torch.Tensor) and isinstance(streamed, CaptionEmbeddings)
        assert streamed.shape == tuple(held.shape) and len(streamed) == len(held)
        assert torch.allclose(streamed[rows], held[rows], atol=1e-5)
        assert torch.allclose(streamed[2:5], held[2:5], atol=1e-5)
