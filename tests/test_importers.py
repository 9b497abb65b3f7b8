"""Importers parse each corpus' published metadata layout into Recording records.

Every test writes its own tiny fixture in the exact published layout, with real audio
files for the rows that have audio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hsm_lib.data.importers import (
    LICENSES,
    MUSIC11_CLASSES,
    MissingAudioWarning,
    find_missing,
    import_audiocaps,
    import_clotho,
    import_corpus,
    import_esc50,
    import_fsd50k,
    import_music,
    import_wavcaps,
    read_wavcaps_blacklists,
)
from hsm_lib.data.records import Recording


def _audio(path: Path, sr: int = 16000, stereo: bool = False) -> Path:
    """0.5 s of noise (stereo at 44.1 kHz when asked), format from the file extension."""
    rng = np.random.default_rng(len(str(path)))
    shape = (sr // 2, 2) if stereo else (sr // 2,)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.1 * rng.standard_normal(shape)).astype(np.float32), sr)
    return path


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _by_id(records: list[Recording]) -> dict[str, Recording]:
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    return {r.id: r for r in records}


def _check_common(rec: Recording, corpus: str) -> None:
    assert rec.source == rec.family == corpus
    assert rec.license == LICENSES[corpus]
    assert rec.tags == ()
    assert Path(rec.original_file).is_file()
    assert rec.extra["corpus_split"] in ("train", "val", "test")
    assert rec.extra["captions"] and all(isinstance(c, str) and c for c in rec.extra["captions"])
    json.dumps(rec.to_json())  # serialisable
    audio, sr = rec.load()
    assert audio.dtype == np.float32 and audio.ndim == 1 and sr in (16000, 44100)
    assert audio.shape[0] == sr // 2


# ------------------------------------------------------------------------------ AudioCaps


def _audiocaps(tmp_path: Path) -> tuple[Path, Path]:
    ds = tmp_path / "audiocaps" / "dataset"
    _text(ds / "train.csv", "audiocap_id,youtube_id,start_time,caption\n"
          "91139,r1nicOVtvkQ,130,A woman talks nearby as water pours\n"
          "58146,UDGBjjwyaqE,20,\"Multiple clanging and clanking sounds, then silence\"\n"
          "11111,MISSINGaudio,0,This clip has no audio file\n")
    _text(ds / "val.csv", "audiocap_id,youtube_id,start_time,caption\n"
          "97151,rqfQRErjfk8,170,A large crowd cheers and applauds\n"
          "97152,rqfQRErjfk8,170,A crowd is cheering and clapping\n")
    _text(ds / "test.csv", "audiocap_id,youtube_id,start_time,caption\n"
          "103549,--0w1YA1Hm4,30,A vehicle driving as a man and woman are talking and laughing\n"
          "103548,--0w1YA1Hm4,30,Two people talk while a vehicle drives by\n"
          "103541,--0w1YA1Hm4,30,A man and a woman talk over a running engine\n")
    audio = tmp_path / "audiocaps_audio"
    _audio(audio / "r1nicOVtvkQ.wav")
    _audio(audio / "YUDGBjjwyaqE.wav", 44100, stereo=True)
    _audio(audio / "val" / "rqfQRErjfk8_170.wav")
    _audio(audio / "Y--0w1YA1Hm4.wav", 44100, stereo=True)
    return ds, audio


def test_audiocaps_groups_captions_and_skips_missing_audio(tmp_path: Path) -> None:
    ds, audio = _audiocaps(tmp_path)
    with pytest.warns(MissingAudioWarning, match=r"skipped 1 of 5 .*MISSINGaudio") as caught:
        recs = _by_id(import_audiocaps(ds, audio))
    assert len(caught) == 1  # one summarised warning, not one per record
    assert set(recs) == {"audiocaps:r1nicOVtvkQ", "audiocaps:UDGBjjwyaqE", "audiocaps:rqfQRErjfk8", "audiocaps:--0w1YA1Hm4"}
    test = recs["audiocaps:--0w1YA1Hm4"]
    assert test.extra["corpus_split"] == "test" and test.label == ""
    assert len(test.extra["captions"]) == 3 and test.extra["captions"][1] == "Two people talk while a vehicle drives by"
    assert test.original_file.endswith("Y--0w1YA1Hm4.wav")
    assert recs["audiocaps:UDGBjjwyaqE"].extra["captions"] == ["Multiple clanging and clanking sounds, then silence"]
    val = recs["audiocaps:rqfQRErjfk8"]
    assert val.extra["corpus_split"] == "val" and val.extra["start_time"] == 170.0 and len(val.extra["captions"]) == 2
    assert recs["audiocaps:r1nicOVtvkQ"].extra["corpus_split"] == "train"
    for rec in recs.values():
        _check_common(rec, "audiocaps")
        assert rec.duration == 0.0


def test_audiocaps_accepts_explicit_files(tmp_path: Path) -> None:
    ds, audio = _audiocaps(tmp_path)
    recs = import_audiocaps([ds / "test.csv"], audio)
    assert [r.id for r in recs] == ["audiocaps:--0w1YA1Hm4"]


# -------------------------------------------------------------------------------- Clotho


def test_clotho(tmp_path: Path) -> None:
    header = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
    caps = ",".join(f"caption {i}" for i in range(2, 6))
    meta = tmp_path / "clotho_csv_files"
    _text(meta / "clotho_captions_development.csv", header
          + f"\"Distorted AM Radio noise.wav\",\"A radio, distorted, plays\",{caps}\n"
          + f"gone.wav,Nothing here,{caps}\n")
    _text(meta / "clotho_captions_validation.csv", header + f"Rain on roof.wav,Rain falls,{caps}\n")
    _text(meta / "clotho_captions_evaluation.csv", header + f"Bees.wav,Bees buzz,{caps}\n"
          + f"Caf\u00e9 ambience.wav,Cups clink,{caps}\n")  # NFC in the CSV, NFD on disk
    audio = tmp_path / "clotho_audio"
    _audio(audio / "development" / "Distorted AM Radio noise.wav", 44100)
    _audio(audio / "validation" / "Rain on roof.wav", 44100, stereo=True)
    _audio(audio / "Bees.wav")
    _audio(audio / "evaluation" / "Cafe\u0301 ambience.wav")
    with pytest.warns(MissingAudioWarning, match=r"clotho: skipped 1 of 5"):
        recs = _by_id(import_clotho(meta, audio))
    assert set(recs) == {"clotho:Distorted AM Radio noise", "clotho:Rain on roof", "clotho:Bees", "clotho:Caf\u00e9 ambience"}
    radio = recs["clotho:Distorted AM Radio noise"]
    assert radio.extra["captions"] == ["A radio, distorted, plays", "caption 2", "caption 3", "caption 4", "caption 5"]
    assert [recs[k].extra["corpus_split"] for k in ("clotho:Distorted AM Radio noise", "clotho:Rain on roof", "clotho:Bees")] == ["train", "val", "test"]
    for rec in recs.values():
        _check_common(rec, "clotho")
        assert rec.label == ""


# -------------------------------------------------------------------------------- FSD50K


def _fsd50k(tmp_path: Path) -> tuple[Path, Path]:
    gt = tmp_path / "FSD50K.ground_truth"
    _text(gt / "vocabulary.csv", "0,Bark,/m/05tny_\n1,Dog,/m/0bt9lr\n2,Domestic_animals_and_pets,/m/068hy\n"
          "3,Animal,/m/0jbk\n4,Speech,/m/09x0r\n5,Chewing_and_mastication,/m/03cczk\n")
    _text(gt / "dev.csv", "fname,labels,mids,split\n"
          "64760,\"Bark,Dog,Domestic_animals_and_pets,Animal\",\"/m/05tny_,/m/0bt9lr,/m/068hy,/m/0jbk\",train\n"
          "16399,Speech,/m/09x0r,val\n"
          "99999,Speech,/m/09x0r,train\n")
    _text(gt / "eval.csv", "fname,labels,mids\n37199,Chewing_and_mastication,/m/03cczk\n")
    audio = tmp_path / "FSD50K"
    _audio(audio / "FSD50K.dev_audio" / "64760.wav", 44100, stereo=True)
    _audio(audio / "FSD50K.dev_audio" / "16399.wav", 44100)
    _audio(audio / "FSD50K.eval_audio" / "37199.wav", 44100)
    return gt, audio


def test_fsd50k_multilabel_and_splits(tmp_path: Path) -> None:
    gt, audio = _fsd50k(tmp_path)
    with pytest.warns(MissingAudioWarning, match=r"fsd50k: skipped 1 of 4 .*99999\.wav"):
        recs = _by_id(import_fsd50k(gt, audio))
    assert set(recs) == {"fsd50k:64760", "fsd50k:16399", "fsd50k:37199"}
    dog = recs["fsd50k:64760"]
    assert dog.label == "Bark, Dog, Domestic animals and pets, Animal"
    assert dog.extra["mids"] == ["/m/05tny_", "/m/0bt9lr", "/m/068hy", "/m/0jbk"]
    assert dog.extra["captions"] == ["the sound of bark, dog, domestic animals and pets, animal"]
    assert recs["fsd50k:37199"].extra["captions"] == ["the sound of chewing and mastication"]
    assert [recs[k].extra["corpus_split"] for k in ("fsd50k:64760", "fsd50k:16399", "fsd50k:37199")] == ["train", "val", "test"]
    for rec in recs.values():
        _check_common(rec, "fsd50k")


def test_fsd50k_label_outside_vocabulary_is_an_error(tmp_path: Path) -> None:
    gt, audio = _fsd50k(tmp_path)
    _text(gt / "eval.csv", "fname,labels,mids\n37199,Kazoo,/m/xyz\n")
    with pytest.raises(ValueError, match=r"Kazoo.*vocabulary\.csv"):
        import_fsd50k(gt, audio)


# -------------------------------------------------------------------------------- ESC-50


def _esc50(tmp_path: Path) -> Path:
    root = tmp_path / "ESC-50-master"
    _text(root / "meta" / "esc50.csv", "filename,fold,target,category,esc10,src_file,take\n"
          "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
          "4-181286-A-20.wav,4,20,crying_baby,True,181286,A\n"
          "5-9032-A-0.wav,5,0,dog,True,9032,A\n"
          "5-200334-A-1.wav,5,1,rooster,False,200334,A\n")
    for name in ("1-100032-A-0.wav", "4-181286-A-20.wav", "5-9032-A-0.wav"):
        _audio(root / "audio" / name, 44100)
    return root


def test_esc50_folds_and_labels(tmp_path: Path) -> None:
    root = _esc50(tmp_path)
    with pytest.warns(MissingAudioWarning, match=r"esc50: skipped 1 of 4 .*5-200334-A-1\.wav"):
        recs = _by_id(import_esc50(root / "meta" / "esc50.csv", root / "audio"))
    assert {k: r.extra["corpus_split"] for k, r in recs.items()} == {
        "esc50:1-100032-A-0": "train", "esc50:4-181286-A-20": "train", "esc50:5-9032-A-0": "test"}
    baby = recs["esc50:4-181286-A-20"]
    assert baby.label == "crying baby" and baby.extra["captions"] == ["the sound of crying baby"]
    assert baby.extra["fold"] == 4 and baby.extra["target"] == 20 and baby.extra["esc10"] is True
    for rec in recs.values():
        _check_common(rec, "esc50")

    with pytest.warns(MissingAudioWarning):  # the checkout folder works for both arguments
        recs = _by_id(import_esc50(root, root, test_fold=1, val_fold=4))
    assert [recs[k].extra["corpus_split"] for k in ("esc50:1-100032-A-0", "esc50:4-181286-A-20", "esc50:5-9032-A-0")] == ["test", "val", "train"]


# ------------------------------------------------------------------------------- WavCaps


def _wavcaps(tmp_path: Path) -> tuple[Path, Path]:
    js = tmp_path / "WavCaps" / "json_files"

    def write(sub: str, name: str, data: list[dict]) -> None:
        _text(js / sub / name, json.dumps({"num_captions_per_audio": 1, "data": data}))

    write("AudioSet_SL", "as_final.json", [
        {"id": "Y---1_cCGK4M.wav", "caption": "Train horn blares.", "audio": "wav_path", "duration": 10.0},
        {"id": "Yabsent00000.wav", "caption": "Not downloaded.", "audio": "wav_path", "duration": 10.0},
    ])
    write("SoundBible", "sb_final.json", [
        {"title": "Airplane Landing", "description": "Airplane landing at an airport.", "author": "Daniel Simion",
         "href": "2219-Airplane-Landing-Airport.html", "caption": "An airplane is landing.", "id": "2219",
         "duration": 14.14, "audio": "wav_path", "download_link": "http://soundbible.com/grab.php?id=2219&type=wav"},
    ])
    write("BBC_Sound_Effects", "bbc_final.json", [
        {"description": "Rain on a tin roof.", "category": "['Weather']", "caption": "Rain falls on a roof.",
         "id": "07066104", "duration": 42.0, "download_link": "x", "audio": "wav_path"},
        {"description": "Long ambience.", "category": "['Atmosphere']", "caption": "A long city ambience.",
         "id": "07070011", "duration": 612.5, "download_link": "x", "audio": "wav_path"},
    ])
    write("FreeSound", "fsd_final.json", [
        {"id": "180913", "file_name": "UK Mello.wav", "href": "x", "tags": ["mello"], "description": "x",
         "author": "x", "duration": 3.0, "download_link": "x", "caption": "A mellotron plays.", "audio": "wav_path"},
    ])
    audio = tmp_path / "WavCaps" / "waveforms"
    _audio(audio / "AudioSet_SL_flac" / "Y---1_cCGK4M.flac", 44100, stereo=True)
    _audio(audio / "SoundBible_flac" / "2219.flac")
    _audio(audio / "BBC_Sound_Effects_flac" / "07066104.flac")
    _audio(audio / "BBC_Sound_Effects_flac" / "07070011.flac")  # present but > 60 s: dropped
    _audio(audio / "FreeSound_flac" / "180913.flac")
    return js, audio


def test_wavcaps_filters_like_the_paper(tmp_path: Path) -> None:
    js, audio = _wavcaps(tmp_path)
    with pytest.warns(MissingAudioWarning, match=r"wavcaps: skipped 1 of 4 .*Yabsent00000"):
        recs = _by_id(import_wavcaps(js, audio))
    assert set(recs) == {"wavcaps:as_Y---1_cCGK4M", "wavcaps:sb_2219", "wavcaps:bbc_07066104"}
    sb = recs["wavcaps:sb_2219"]
    assert sb.extra["captions"] == ["An airplane is landing."] and sb.label == ""
    assert sb.duration == pytest.approx(14.14) and sb.extra["wavcaps_subset"] == "SoundBible"
    for rec in recs.values():
        _check_common(rec, "wavcaps")
        assert rec.extra["corpus_split"] == "train"

    with pytest.warns(MissingAudioWarning):
        recs = _by_id(import_wavcaps(js, audio, include_freesound=True, max_duration=None, exclude_ids=["Y---1_cCGK4M"]))
    assert set(recs) == {"wavcaps:sb_2219", "wavcaps:bbc_07066104", "wavcaps:bbc_07070011", "wavcaps:fsd_180913"}


def test_wavcaps_published_blacklists_exclude_per_subset(tmp_path: Path) -> None:
    """WavCaps' blacklist files (``{"AudioSet": ["Y....wav"], "FreeSound": ["<id>", "Not found"]}``)
    remove those clips from their own subset only: an id listed under FreeSound stays in SoundBible."""
    js, audio = _wavcaps(tmp_path)
    blacklist = tmp_path / "blacklist_exclude_test_ac.json"
    _text(blacklist, json.dumps({"AudioSet": ["Y---1_cCGK4M.wav"], "FreeSound": ["180913", "2219", "Not found"]}))
    with pytest.warns(MissingAudioWarning):
        recs = _by_id(import_wavcaps(js, audio, include_freesound=True, exclude_lists=[blacklist]))
    assert set(recs) == {"wavcaps:sb_2219", "wavcaps:bbc_07066104"}
    assert read_wavcaps_blacklists([blacklist]) == {"AudioSet_SL": {"Y---1_cCGK4M"}, "FreeSound": {"180913", "2219"}}
    with pytest.raises(ValueError, match="blacklist .*absent.json is missing"):
        import_wavcaps(js, audio, exclude_lists=[tmp_path / "absent.json"])
    _text(blacklist, json.dumps({"Jamendo": ["1"]}))
    with pytest.raises(ValueError, match="key 'Jamendo', not a list of ids of one of the subsets"):
        read_wavcaps_blacklists([blacklist])


def test_wavcaps_audio_key_variants(tmp_path: Path) -> None:
    js = _text(tmp_path / "bbc_final.json", json.dumps({"num_captions_per_audio": 1, "data": [
        {"id": "1", "caption": "a", "wav_path": "clips/one.wav", "duration": 1.0},
        {"id": "2", "caption": "b", "file_name": "two.wav"},
        {"id": "3", "caption": "c", "audio": str(tmp_path / "abs" / "three.wav")},
        {"id": "4.wav", "caption": "d"},
    ]}))
    audio = tmp_path / "audio"
    for rel in ("clips/one.wav", "BBC_Sound_Effects/two.wav", "4.wav"):
        _audio(audio / rel)
    _audio(tmp_path / "abs" / "three.wav")
    recs = _by_id(import_wavcaps(js, audio))
    assert {k: Path(r.original_file).name for k, r in recs.items()} == {
        "wavcaps:bbc_1": "one.wav", "wavcaps:bbc_2": "two.wav", "wavcaps:bbc_3": "three.wav", "wavcaps:bbc_4": "4.wav"}
    assert recs["wavcaps:bbc_2"].duration == 0.0


# --------------------------------------------------------------------------------- MUSIC


def test_music(tmp_path: Path) -> None:
    ids = {"acoustic_guitar": ["A1b2C3d4E5f", "G6h7I8j9K0l"], "accordion": ["M1n2O3p4Q5r"], "bagpipe": ["S1t2U3v4W5x"]}
    meta = _text(tmp_path / "MUSIC21_solo_videos.json", json.dumps({"videos": ids}))
    audio = tmp_path / "MUSIC" / "audio"
    _audio(audio / "acoustic_guitar" / "A1b2C3d4E5f.wav", 44100, stereo=True)
    _audio(audio / "accordion" / "M1n2O3p4Q5r.flac")
    _audio(audio / "bagpipe" / "S1t2U3v4W5x.wav")
    with pytest.warns(MissingAudioWarning, match=r"music: skipped 1 of 3 .*G6h7I8j9K0l"):
        recs = _by_id(import_corpus("MUSIC", metadata=meta, audio_root=audio, classes=MUSIC11_CLASSES))
    assert set(recs) == {"music:A1b2C3d4E5f", "music:M1n2O3p4Q5r"}
    guitar = recs["music:A1b2C3d4E5f"]
    assert guitar.label == "acoustic guitar" and guitar.extra["captions"] == ["the sound of acoustic guitar"]
    for rec in recs.values():
        _check_common(rec, "music")
    # the split is a deterministic function of the video id
    with pytest.warns(MissingAudioWarning):
        again = _by_id(import_music(meta, audio, classes=["acoustic guitar", "accordion"]))
    assert {k: r.extra["corpus_split"] for k, r in again.items()} == {k: r.extra["corpus_split"] for k, r in recs.items()}
    with pytest.warns(MissingAudioWarning):
        everything = _by_id(import_music(meta, audio, test_fraction=1.0))
    assert "music:S1t2U3v4W5x" in everything and {r.extra["corpus_split"] for r in everything.values()} == {"test"}


# ------------------------------------------------------------------------ dispatch + errors


def test_import_corpus_dispatches_by_name(tmp_path: Path) -> None:
    root = _esc50(tmp_path)
    with pytest.warns(MissingAudioWarning):
        a = import_corpus("ESC-50", metadata=root / "meta" / "esc50.csv", audio_root=root / "audio", test_fold=2)
    with pytest.warns(MissingAudioWarning):
        b = import_esc50(root / "meta" / "esc50.csv", root / "audio", test_fold=2)
    assert [r.to_json() for r in a] == [r.to_json() for r in b]
    with pytest.raises(ValueError, match="unknown corpus 'audioset'"):
        import_corpus("audioset", metadata=root, audio_root=root)


def test_missing_metadata_file_raises_naming_file_and_corpus(tmp_path: Path) -> None:
    ds, audio = _audiocaps(tmp_path)
    (ds / "val.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"audiocaps.*val\.csv"):
        import_audiocaps(ds, audio)
    with pytest.raises(FileNotFoundError, match=r"clotho: .*nothing_here not found .*clotho_captions_development\.csv"):
        import_clotho(tmp_path / "nothing_here", audio)
    gt, audio = _fsd50k(tmp_path)
    (gt / "vocabulary.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"fsd50k.*vocabulary\.csv"):
        import_fsd50k([gt / "dev.csv"], audio)
    with pytest.raises(FileNotFoundError, match=r"wavcaps.*as_final\.json"):
        import_wavcaps(tmp_path / "empty_json_folder", audio)


def test_missing_audio_folder_raises(tmp_path: Path) -> None:
    root = _esc50(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"esc50: audio folder .*nope"):
        import_esc50(root, tmp_path / "nope")


def test_malformed_metadata_raises_naming_file_and_column(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    bad = _text(tmp_path / "train.csv", "audiocap_id,ytid,start_time,caption\n1,abc,0,hi\n")
    with pytest.raises(ValueError, match=r"train\.csv has no column 'youtube_id'"):
        import_audiocaps(bad, audio)
    bad = _text(tmp_path / "meta" / "esc50.csv", "filename,fold,target,category,esc10,src_file\nx.wav,1,0,dog,True,1\n")
    with pytest.raises(ValueError, match=r"esc50\.csv has no column 'take'"):
        import_esc50(bad, audio)
    bad = _text(tmp_path / "gt" / "dev.csv", "fname,labels,mids\n1,Speech,/m/09x0r\n")
    _text(tmp_path / "gt" / "vocabulary.csv", "0,Speech,/m/09x0r\n")
    with pytest.raises(ValueError, match=r"dev\.csv has no column 'split'"):
        import_fsd50k(bad, audio)
    bad = _text(tmp_path / "clotho_captions_evaluation.csv", "file_name,caption_1\nshort.wav\n")
    with pytest.raises(ValueError, match=r"clotho_captions_evaluation\.csv line 2 has no value for column 'caption_1'"):
        import_clotho(bad, audio)
    bad = _text(tmp_path / "sb_final.json", json.dumps({"num_captions_per_audio": 1, "data": [{"id": "1"}]}))
    with pytest.raises(ValueError, match=r"sb_final\.json data\[0\] has no key 'caption'"):
        import_wavcaps(bad, audio)
    bad = _text(tmp_path / "as_final.json", "{not json")
    with pytest.raises(ValueError, match=r"as_final\.json is not valid JSON"):
        import_wavcaps(bad, audio)
    bad = _text(tmp_path / "MUSIC_solo_videos.json", json.dumps({"video": {}}))
    with pytest.raises(ValueError, match=r"MUSIC_solo_videos\.json has no top-level key 'videos'"):
        import_music(bad, audio)


def test_find_missing_describes_absent_paths(tmp_path: Path) -> None:
    ds, audio = _audiocaps(tmp_path)
    root = _esc50(tmp_path)
    assert find_missing({"metadata": str(ds), "audio_root": str(audio)}, corpus="audiocaps") == []
    assert find_missing({"esc50.metadata": str(root), "esc50.audio_root": str(root / "audio"), "test_fold": 5}) == []
    (ds / "test.csv").unlink()
    problems = find_missing({
        "audiocaps.metadata": str(ds),
        "audiocaps.audio_root": str(audio),
        "clotho_metadata": str(tmp_path / "clotho" / "clotho_captions_evaluation.csv"),
        "clotho_audio_root": str(tmp_path / "clotho" / "audio"),
    })
    assert len(problems) == 3
    assert "audiocaps metadata file is missing" in problems[0] and problems[0].count("test.csv") == 1
    assert "clotho metadata is missing" in problems[1] and "clotho_captions_evaluation.csv" in problems[1]
    assert "clotho audio folder is missing" in problems[2]
