"""The out-of-domain test set (stage ``ood_data``): Tux Paint's stamp sounds, never in training."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest
import soundfile as sf

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE, resample
from hsm_lib.config import profile_section
from hsm_lib.data import ood
from hsm_lib.data.build import DataConfig
from hsm_lib.data.sources import tuxpaint
from hsm_lib.data.taxonomy import (OOD_RULES, RULES, RULES_BY_TAG, ood_tag_for_label, rule_for_tag, tag_for_label,
                                   tags_overlap)
from hsm_lib.data.triplets import TripletSet

NEEDS_PACKAGE = pytest.mark.skipif(
    not tuxpaint.TUXPAINT_ROOT.is_dir(),
    reason=f"Debian package {tuxpaint.PACKAGE} not installed ({tuxpaint.TUXPAINT_ROOT} missing): "
           f"apt-get install {tuxpaint.PACKAGE}, or run scripts/setup.sh")
COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2002-2022 by Bill Kendrick
License: GPL-2

Files: debian/*
Copyright: 2017-2022 Jonathan Carter
License: GPL-3
"""


def _sound(kind: str, seconds: float, seed: int, sr: int = 22050) -> np.ndarray:
    """A distinct test sound: a decaying noise burst, a chirp or a buzz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if kind == "noise":
        x = rng.standard_normal(t.size) * np.exp(-3 * t)
    elif kind == "chirp":
        x = np.sin(2 * np.pi * (800 + 1500 * t) * t) * np.exp(-t)
    else:
        x = np.sign(np.sin(2 * np.pi * 180 * t)) * 0.5 + 0.05 * rng.standard_normal(t.size)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture
def stamps(tmp_path):
    """A stamps folder in Tux Paint's layout: sounds, spoken descriptions, letters, speech, images."""
    root = tmp_path / "stamps"
    files = {
        "animals/mammals/dogs/dog.ogg": _sound("noise", 0.8, 1),
        "animals/mammals/dogs/dog_desc.ogg": _sound("chirp", 0.5, 2),
        "animals/mammals/dogs/dog_desc_pt_BR.wav": _sound("chirp", 0.5, 3),
        "animals/birds/crow.wav": _sound("chirp", 1.2, 4),
        "animals/insects/bee.wav": _sound("buzz", 1.5, 5),
        "household/tools/saw.wav": _sound("noise", 1.0, 6),
        "household/toilet.wav": _sound("noise", 1.3, 10),
        "hobbies/music/string/cello.wav": _sound("buzz", 1.0, 11),
        "household/gift.wav": _sound("noise", 0.4, 7),
        "symbols/letters/a.ogg": _sound("chirp", 0.3, 8),
        "space/apollo_lander.wav": _sound("noise", 1.0, 9),
    }
    for rel, audio in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, audio, 22050)
    (root / "animals/mammals/dogs/dog.png").write_bytes(b"\x89PNG")
    (tmp_path / "copyright").write_text(COPYRIGHT)
    return root


def test_scanner_skips_descriptions_symbols_and_speech(stamps):
    recs = tuxpaint.scan_tuxpaint(stamps, stamps.parent / "copyright")
    assert sorted(r.label for r in recs) == ["bee", "cello", "crow", "dog", "gift", "saw", "toilet"]
    dog = next(r for r in recs if r.label == "dog")
    assert dog.id == "tuxpaint:animals/mammals/dogs/dog.ogg" and dog.family == "tuxpaint"
    assert dog.license.startswith("GPL-2 (") and "Kendrick" in dog.license
    audio, sr = dog.load()
    assert sr == 22050 and audio.ndim == 1 and audio.size == int(0.8 * 22050)


def test_missing_package_gives_no_recordings_and_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert tuxpaint.scan_tuxpaint(tmp_path / "absent") == []
    assert tuxpaint.PACKAGE in caplog.text


def test_ood_table_leaves_the_corpus_taxonomy_alone():
    # The corpus's labels never read OOD_RULES, and every tag keeps its words for captions.
    assert all(rule_for_tag(r.tag) is RULES_BY_TAG[r.tag] for r in RULES)
    for r in OOD_RULES:
        assert r.tag and r.noun and r.verb and r.gerund and r.parent != r.tag
        if r.tag in RULES_BY_TAG:  # a reused tag keeps its words and parent
            assert (r.noun, r.verb, r.gerund, r.parent) == (rule_for_tag(r.tag).noun, rule_for_tag(r.tag).verb,
                                                            rule_for_tag(r.tag).gerund, rule_for_tag(r.tag).parent)
    assert tag_for_label("crow") == ("chicken", "bird")  # the corpus's reading, unchanged


@pytest.mark.parametrize("label,tags", [
    ("crow", ("crow", "bird")), ("drake", ("duck", "bird")), ("saw", ("saw",)), ("bassoon", ("bassoon", "woodwind")),
    ("sea lion", ("sea lion",)), ("lion", ("lion", "big cat")), ("rubberduck", ("rubber duck",)),
    ("drum tomtom floor", ("tom drum", "drum")), ("gift", ()), ("checkeredflag", ()),
])
def test_ood_labels_to_tags(label, tags):
    assert ood_tag_for_label(label) == tags


def test_kindred_sounds_are_never_mixed():
    assert tags_overlap(ood_tag_for_label("crow"), ood_tag_for_label("seagull"))
    assert tags_overlap(ood_tag_for_label("lion"), ood_tag_for_label("tiger"))
    assert tags_overlap(ood_tag_for_label("cow"), ood_tag_for_label("bull"))
    assert not tags_overlap(ood_tag_for_label("dog"), ood_tag_for_label("vacuum cleaner"))


def test_dedupe_drops_a_planted_duplicate():
    """A training recording shipped again (resampled, re-trimmed, at another gain, with a little
    noise) is found; a different sound of the same kind is not."""
    rng = np.random.default_rng(0)
    reference = {f"lmms:{k}": resample(_sound(k, 1.5, i), 22050) for i, k in enumerate(("noise", "chirp", "buzz"))}
    copy = resample(resample(reference["lmms:noise"], SAMPLE_RATE, 44100), 44100)[300:] * 0.3
    candidates = {
        "tuxpaint:copy": (copy + 1e-3 * rng.standard_normal(copy.size)).astype(np.float32),
        "tuxpaint:other": resample(_sound("noise", 1.5, 99), 22050),  # another burst, same spectrum
    }
    dup = ood.find_duplicates(candidates, reference, ood.OodConfig())
    assert set(dup) == {"tuxpaint:copy"} and dup["tuxpaint:copy"][0] == "lmms:noise"
    assert dup["tuxpaint:copy"][1] > 0.9


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_drops_the_duplicate_and_never_mixes_a_shared_tag(stamps, tmp_path):
    """The set from the fake stamps folder, with the crow planted among the training recordings."""
    data = DataConfig.from_params(profile_section("data", "smoke"))
    cfg = ood.OodConfig(pairs=8, clips=10)
    found = tuxpaint.scan_tuxpaint(stamps, stamps.parent / "copyright")
    crow = next(r for r in found if r.label == "crow")
    audio, sr = crow.load()
    reference = {"gcompris:crow.ogg": resample(audio, sr) * 0.5}
    summary = ood.build_ood_set(cfg, data, tmp_path / "a", found, reference, progress=False)
    row = summary["table1"]
    assert list(summary["duplicates"]) == [crow.id] and row["duplicates_of_training"] == 1
    assert row["recordings_found"] == 7 and row["recordings_untagged"] == 1  # the gift
    assert row["recordings_used"] == 5 and row["classes"] == 5 and row["pairs"] == 8
    ts = TripletSet(tmp_path / "a" / "testsets", "ood")
    assert ts.audio.shape == (8, 2, data.clip_samples) and ts.meta["kind"] == "out-of-domain"
    for r in ts.records:
        assert not set(r["target_tags"]) & set(r["other_tags"])
        assert "crow" not in r["target_tags"] + r["other_tags"]
    # Deterministic from the seed: a second build is byte-identical.
    found = tuxpaint.scan_tuxpaint(stamps, stamps.parent / "copyright")
    ood.build_ood_set(cfg, data, tmp_path / "b", found, reference, progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_stage_writes_an_empty_set_when_the_package_is_missing(tmp_path, monkeypatch, caplog):
    from hsm_lib.stages import ood_data

    monkeypatch.setattr(tuxpaint, "TUXPAINT_ROOT", tmp_path / "not-installed")
    with caplog.at_level(logging.WARNING):
        result = ood_data.run("smoke", progress=False)
    assert "OOD TEST SET EMPTY" in caplog.text
    ts = TripletSet(paths.ood_dir("smoke") / "testsets", "ood")
    assert len(ts) == 0 and ts.audio.shape[0] == 0
    assert "empty" in (paths.reports_dir("smoke") / "table1_ood.md").read_text()
    assert result.summary["table1"]["recordings_found"] == 0 and not result.examples


@pytest.fixture(scope="module")
def smoke_stage():
    """The stage on the smoke profile with the real package; keeps the training reference it decoded."""
    from hsm_lib.stages import ood_data

    kept = {}

    def reference(*args, **kwargs):
        kept["reference"] = ood.training_reference(*args, **kwargs)
        return kept["reference"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ood_data, "training_reference", reference)
        result = ood_data.run("smoke", progress=False)
    return result, kept["reference"], _digest(paths.ood_dir("smoke"))


@NEEDS_PACKAGE
def test_stage_on_smoke_profile(smoke_stage):
    result, _, _ = smoke_stage
    cfg, data = result.cfg, result.data
    ts = TripletSet(paths.ood_dir("smoke") / "testsets", "ood")
    assert len(ts) == cfg.pairs > 0 and ts.audio.shape == (cfg.pairs, 2, data.clip_samples)
    for i, r in enumerate(ts.records):
        assert not set(r["target_tags"]) & set(r["other_tags"])
        assert r["target_family"] == r["other_family"] == "tuxpaint"
        assert r["instructions"]["extraction"]["text"] and r["instructions"]["removal"]["text"]
        np.testing.assert_array_equal(ts[i]["mixture"], ts[i]["target"] + ts[i]["other"])
    row = result.summary["table1"]
    dropped = ("recordings_untagged", "recordings_identical", "recordings_unreadable", "duplicates_of_training")
    assert row["recordings_used"] == row["recordings_found"] - sum(row[k] for k in dropped)
    assert row["classes"] >= 10 and not result.summary["empty_because"]
    assert (paths.reports_dir("smoke") / "table1_ood.json").is_file()
    if "lmms" in result.summary["reference_sources"]:  # the crash cymbal ships in both packages
        assert result.summary["duplicates"]["tuxpaint:hobbies/music/percussion/cymbal_crash.ogg"]["of"] \
            == "lmms:drums/crash02.ogg"


@NEEDS_PACKAGE
def test_stage_is_deterministic(smoke_stage, tmp_path):
    result, reference, digest = smoke_stage
    ood.build_ood_set(result.cfg, result.data, tmp_path / "again", tuxpaint.scan_tuxpaint(), reference, progress=False)
    assert _digest(tmp_path / "again") == digest
