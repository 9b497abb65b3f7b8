"""The data stage on the smoke profile: the properties the paper's data must have."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hsm_lib.audio import snr_db
from hsm_lib.data.records import read_json
from hsm_lib.data.taxonomy import tags_overlap
from hsm_lib.data.triplets import TripletSet

TRAIN_SETS = ("train", "val")


def _all_sets(out):
    sets = [TripletSet(out / "triplets", s) for s in TRAIN_SETS]
    sets += [TripletSet(out / "testsets", p.stem) for p in sorted((out / "testsets").glob("*.npy"))]
    return sets


def test_layout_and_counts(smoke_corpus, smoke_cfg):
    out, summary = smoke_corpus
    for split in ("train", "val", "test"):
        audio = np.load(out / "clips" / f"{split}.npy", mmap_mode="r")
        clips = read_json(out / "clips" / f"{split}.json")
        assert audio.shape == (smoke_cfg.clips[split], smoke_cfg.clip_samples) and len(clips) == audio.shape[0]
        assert all(c["split"] == split and c["captions"] and c["tags"] and c["licenses"] for c in clips)
    assert len(TripletSet(out / "triplets", "train")) == smoke_cfg.triplets["train"]
    names = {p.stem for p in (out / "testsets").glob("*.npy")}
    assert {"mixed", "music_synth"} <= names and len(names) >= 4
    assert summary["sources_used"]


def test_no_shared_tag_within_a_mixture(smoke_corpus):
    out, _ = smoke_corpus
    for ts in _all_sets(out):
        for r in ts.records:
            assert not tags_overlap(r["target_tags"], r["other_tags"]), (ts.name, r["id"])
            assert r["target_clip"] != r["other_clip"]


def test_every_snr_in_range(smoke_corpus, smoke_cfg):
    out, _ = smoke_corpus
    for ts in _all_sets(out):
        lo, hi = smoke_cfg.snr_db_zero_shot if ts.name == "music_synth" else smoke_cfg.snr_db
        for i in range(len(ts)):
            t = ts[i]
            assert lo <= t["snr_db"] <= hi
            # Measured on the stored audio: int16 rounding moves it by far less than 0.01 dB.
            measured = snr_db(t["target"].astype(np.float64), t["other"].astype(np.float64))
            assert lo - 0.01 <= measured <= hi + 0.01
            assert measured == pytest.approx(t["snr_db"], abs=0.01)


def test_mixture_is_target_plus_other(smoke_corpus):
    out, _ = smoke_corpus
    for ts in _all_sets(out):
        for i in range(len(ts)):
            t = ts[i]
            np.testing.assert_array_equal(t["mixture"], t["target"] + t["other"])
            assert np.abs(t["mixture"]).max() <= 0.9 + 1e-4  # the common gain leaves headroom
            assert np.abs(t["target"]).max() > 0 and np.abs(t["other"]).max() > 0


def test_splits_are_disjoint_by_recording(smoke_corpus):
    out, _ = smoke_corpus
    recs = read_json(out / "recordings.json")
    split_of = {r["id"]: r["split"] for r in recs}
    # No audio twice: identical decoded audio counts as one recording.
    hashes = [r["content_hash"] for r in recs if r["content_hash"]]
    assert len(hashes) == len(set(hashes))
    files_by_split = {}
    for split in ("train", "val", "test"):
        for c in read_json(out / "clips" / f"{split}.json"):
            for rid in c["recordings"]:
                assert split_of[rid] == split, f"{c['id']} uses {rid} from {split_of[rid]}"
            # Generated sources name their generator, not a file: only real files count here.
            files_by_split.setdefault(split, set()).update(f for f in c["original_files"] if f.startswith("/"))
    assert not files_by_split["train"] & files_by_split["test"]
    assert not files_by_split["train"] & files_by_split["val"]
    assert not files_by_split["val"] & files_by_split["test"]
    # Triplets only mix clips of their own split.
    for ts in _all_sets(out):
        split = {"train": "train", "val": "val"}.get(ts.name, "test")
        for r in ts.records:
            for rid in r["target_recordings"] + r["other_recordings"]:
                if rid in split_of:  # MUSIC-synth renders are not corpus recordings
                    assert split_of[rid] == split


def test_both_instructions_present_and_correct(smoke_corpus):
    out, _ = smoke_corpus
    clips = {c["id"]: c for s in ("train", "val", "test") for c in read_json(out / "clips" / f"{s}.json")}
    clips.update({c["id"]: c for c in read_json(out / "testsets" / "music_synth_clips.json")})
    for ts in _all_sets(out):
        for r in ts.records:
            ex, rm = r["instructions"]["extraction"], r["instructions"]["removal"]
            assert ex["task"] == "extraction" and rm["task"] == "removal"
            # Extraction names the target; removal names the other source: same target audio.
            assert ex["caption"] == r["target_caption"] and rm["caption"] == r["other_caption"]
            assert ex["caption"] in ex["text"] and rm["caption"] in rm["text"]
            target, other = clips[r["target_clip"]], clips[r["other_clip"]]
            assert r["target_caption"] in target["captions"] or r["target_caption"] == ", ".join(target["labels"])
            assert r["other_caption"] in other["captions"] or r["other_caption"] == ", ".join(other["labels"])


def test_music_synth_is_zero_shot(smoke_corpus):
    out, _ = smoke_corpus
    music = TripletSet(out / "testsets", "music_synth")
    assert music.meta["kind"] == "zero-shot"
    train_sources = {s for s in ("train", "val") for c in read_json(out / "clips" / f"{s}.json") for s in c["sources"]}
    assert "soundfont" not in train_sources
    for r in music.records:
        assert r["target_tags"] != r["other_tags"]  # two different instrument classes


def test_clips_have_a_noise_floor(smoke_corpus):
    """No digital silence in composed clips (it would make LSD meaningless; DATA.md)."""
    out, _ = smoke_corpus
    audio = np.load(out / "clips" / "train.npy", mmap_mode="r")
    frames = np.asarray(audio[:, : (audio.shape[1] // 160) * 160]).reshape(audio.shape[0], -1, 160)
    assert (np.abs(frames).max(axis=2) > 0).all()


def test_captions_follow_event_order(smoke_corpus):
    out, _ = smoke_corpus
    for c in read_json(out / "clips" / "train.json"):
        onsets = [e["onsets"][0] for e in c["events"]]
        assert onsets == sorted(onsets)


def test_fbank_stats_and_table1_written(smoke_corpus, tmp_path):
    from hsm_lib.data.report import write_table1

    out, summary = smoke_corpus
    stats = json.loads((out / "fbank_stats.json").read_text())
    assert np.isfinite(stats["mean"]) and stats["std"] > 0
    write_table1(summary, "smoke", tmp_path)
    md = (tmp_path / "table1_test_sets.md").read_text()
    for name, row in summary["test_sets"].items():
        assert f"| {name} |" in md
    assert "[-5, 5]" in md and "[-15, 15]" in md


def test_build_is_deterministic(smoke_cfg, smoke_corpus, tmp_path):
    """Same params, same corpus: the pipeline's numbers can be regenerated."""
    from dataclasses import replace

    from hsm_lib.data.build import build_corpus

    out, _ = smoke_corpus
    cfg = replace(smoke_cfg, sources=["hydrogen", "synth"], test_pairs_music=0)
    a = build_corpus(cfg, tmp_path / "a", progress=False)
    b = build_corpus(cfg, tmp_path / "b", progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "a/triplets/train.npy"), np.load(tmp_path / "b/triplets/train.npy"))
    assert read_json(tmp_path / "a/triplets/train.json") == read_json(tmp_path / "b/triplets/train.json")
    assert a["clips"] == b["clips"]


def test_failed_build_leaves_nothing(smoke_cfg, tmp_path):
    from dataclasses import replace

    from hsm_lib.data.build import build_corpus

    with pytest.raises(ValueError, match="unknown source"):
        build_corpus(replace(smoke_cfg, sources=["nope"]), tmp_path / "corpus", progress=False)
    assert not any(tmp_path.iterdir())


def test_near_duplicates_share_a_split():
    """A sound shipped twice at another gain (or as another velocity layer) never straddles splits."""
    from hsm_lib.data.bank import assign_splits, near_duplicate_groups
    from hsm_lib.data.records import Recording

    rng = np.random.default_rng(0)
    base = rng.standard_normal(8000).astype(np.float32)
    bank, recs = {}, []
    for i in range(40):  # 20 distinct sounds, each shipped twice (the copy at 0.5x gain, rounded)
        x = base * 0 + rng.standard_normal(8000).astype(np.float32) if i % 2 == 0 else np.round(bank[f"r{i - 1}"] * 0.5 * 32767) / 32767
        bank[f"r{i}"] = x.astype(np.float32)
        recs.append(Recording(id=f"r{i}", source="t", original_file=f"/f{i}", license="-", label="dog", tags=("dog",), family="f"))
    groups = near_duplicate_groups(recs, bank)
    split = assign_splits(recs, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0, groups=groups)
    for i in range(0, 40, 2):
        assert groups[f"r{i}"] == groups[f"r{i + 1}"] and split[f"r{i}"] == split[f"r{i + 1}"]
    assert len(set(split.values())) == 3  # and the splits are still used


def test_stored_sources_are_the_clips_under_one_common_gain(smoke_corpus):
    """Target and other rows are their clips scaled (SNR gain, common gain), nothing else added."""
    out, _ = smoke_corpus
    for split in ("train",):
        clips = np.load(out / "clips" / f"{split}.npy").astype(np.float64)
        index = {c["id"]: c["index"] for c in read_json(out / "clips" / f"{split}.json")}
        ts = TripletSet(out / "triplets", split)
        for r in ts.records:
            row = np.asarray(ts.audio[r["index"]], dtype=np.float64)
            assert np.abs(row.sum(axis=0)).max() <= 0.9 * 32768 + 2  # the sum never clips
            assert np.abs(row).max() <= 0.9 * 32768 + 1  # nor does either source
            for k, key in enumerate(("target_clip", "other_clip")):
                src = clips[index[r[key]]]
                gain = float(row[k] @ src / (src @ src))
                residual = row[k] - gain * src
                assert np.abs(residual).max() <= 0.5 + 1e-6 + abs(gain) * 0.5  # only int16 rounding


def test_no_empty_instruction(smoke_corpus):
    out, _ = smoke_corpus
    for ts in _all_sets(out):
        for r in ts.records:
            for inst in r["instructions"].values():
                assert inst["caption"].strip() and len(inst["text"]) > len(inst["caption"])


def test_missing_soundfont_skips_music_synth_and_says_so(smoke_cfg, tmp_path, monkeypatch):
    from dataclasses import replace

    from hsm_lib.data import build

    def no_soundfont(cfg):
        raise RuntimeError("soundfont /nowhere.sf2 not found; install fluid-soundfont-gm and libfluidsynth3")

    monkeypatch.setattr(build, "music_synth_clips", no_soundfont)
    summary = build.build_corpus(replace(smoke_cfg, sources=["hydrogen", "synth"]), tmp_path / "c", progress=False)
    assert "soundfont" in summary["sources_missing"] and "music_synth" not in summary["test_sets"]
