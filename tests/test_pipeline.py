"""The separator's plumbing: overlap-add windows (identity reconstructs exactly), long and short
inputs, and model loading errors."""

from __future__ import annotations

import numpy as np
import pytest

from hsm_lib.checkpoint import CheckpointError
from hsm_lib.pipeline import Separator, crossfade_weights, decode_in_chunks, overlap_add, splice_windows, window_starts


def test_window_starts_cover_the_signal():
    assert window_starts(100, 400, 300) == [0]
    assert window_starts(400, 400, 300) == [0]
    assert window_starts(401, 400, 300) == [0, 300]
    starts = window_starts(5000, 400, 300)
    assert starts[-1] + 400 >= 5000 and starts[-2] + 400 < 5000


@pytest.mark.parametrize("length", [1, 37, 399, 400, 401, 1234, 3 * 400 + 17, 10_000])
def test_identity_reconstructs_exactly(length):
    x = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    calls = []

    def identity(w):
        calls.append(len(w))
        return w

    y = overlap_add(x, 400, 100, identity, batch_size=3)
    assert y.shape == x.shape and np.allclose(y, x, atol=1e-6)
    assert sum(calls) == len(window_starts(length, 400, 300)) and max(calls) <= 3  # batched over windows


def test_joins_are_crossfades_not_cuts():
    # each window's output is a constant: the join between two windows must ramp, not step
    counter = iter(range(100))
    y = overlap_add(np.zeros(1000, np.float32), 400, 200, lambda w: np.stack([np.full(400, float(next(counter))) for _ in w]),
                    batch_size=1)
    assert y[0] == 0 and y[-1] == len(window_starts(1000, 400, 200)) - 1
    assert np.abs(np.diff(y)).max() < 0.05  # a hard cut would jump by 1
    w = crossfade_weights(400, 100)
    assert w[0] > 0 and w[150] == 1 and np.allclose(w[:100] + w[300:], 1.0)  # rise of one window + fall of the one before = 1


def test_bad_process_output_is_an_error():
    with pytest.raises(ValueError, match="expected"):
        overlap_add(np.zeros(500, np.float32), 400, 100, lambda w: w[:, :10])
    with pytest.raises(ValueError, match="overlap"):
        overlap_add(np.zeros(500, np.float32), 400, 400, lambda w: w)


@pytest.mark.parametrize("length, frames, overlap", [(50, 50, 10), (51, 50, 10), (173, 50, 11), (300, 40, 0), (90, 30, 15)])
def test_splicing_windows_cut_from_one_sequence_gives_it_back(length, frames, overlap):
    import torch

    seq = torch.arange(length * 2).reshape(length, 2)
    starts = window_starts(length, frames, frames - overlap)
    padded = torch.cat([seq, torch.full((starts[-1] + frames - length, 2), -1)])
    pieces = torch.stack([padded[s:s + frames] for s in starts])
    assert torch.equal(splice_windows(pieces, starts, overlap)[:length], seq)


def test_splice_takes_each_overlap_half_from_either_window():
    import torch

    pieces = torch.stack([torch.full((10,), k) for k in range(3)])          # window k is all k
    out = splice_windows(pieces, [0, 6, 12], 4)
    assert out.tolist() == [0] * 8 + [1] * 6 + [2] * 8
    with pytest.raises(ValueError, match="starts"):
        splice_windows(pieces, [0, 6], 4)
    with pytest.raises(ValueError, match="overlap"):
        splice_windows(pieces, [0, 6, 12], 10)


def test_from_pretrained_names_what_is_missing(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Separator.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="separator.json is missing"):
        Separator.from_pretrained(tmp_path)


# --- a tiny, randomly initialised checkpoint: the real pipeline, small ---------------------------

CLIP = 16000  # 1 s windows


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from hsm_lib.checkpoint import save_checkpoint
    from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
    from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
    from hsm_lib.models.codec import Codec, CodecConfig
    from hsm_lib.models.nar import NARConfig, SeparationTransformer
    from hsm_lib.models.qaudio import QAudio, QAudioConfig
    from hsm_lib.pipeline import write_manifest
    from hsm_lib.text.backbone import TextBackbone

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("ckpt")
    backbone = TextBackbone("minilm")
    mae_cfg = AudioMAEConfig(n_frames=112, dim=32, depth=1, heads=2, decoder_dim=16, decoder_depth=1, decoder_heads=2)
    q_cfg = QAudioConfig(audio_dim=32, text_dim=backbone.dim, dim=24, layers=1, heads=2, embed_dim=8,
                         vocab_size=backbone.vocab_size, backbone_vocab=backbone.vocab_size)
    codec_cfg = CodecConfig(channels=2, strides=[2, 4, 5, 8], latent_dim=12, groups=2, codebook_size=16)
    frames = -(-CLIP // codec_cfg.hop)
    lm_cfg = AcousticLMConfig(cond_dim=32, dim=16, layers=1, heads=2, groups=2, codebook_size=16, max_frames=frames,
                              max_cond=mae_cfg.n_patches)
    h1_cfg = NARConfig(audio_dim=24, text_dim=24, task_dim=backbone.dim, dim=16, layers=1, heads=2)
    h2_cfg = NARConfig(audio_dim=32, text_dim=24, task_dim=backbone.dim, global_dim=24, audio_len=mae_cfg.n_patches,
                       dim=16, layers=1, heads=2)
    models = {"audiomae": (AudioMAE(mae_cfg), mae_cfg), "qaudio": (QAudio(q_cfg), q_cfg), "codec": (Codec(codec_cfg), codec_cfg),
              "acoustic_lm": (AcousticLM(lm_cfg), lm_cfg), "h1": (SeparationTransformer(h1_cfg), h1_cfg),
              "h2": (SeparationTransformer(h2_cfg), h2_cfg)}
    # random heads on H1/H2 so that the instruction matters; a sound codec output so that it is audible
    for kind in ("h1", "h2"):
        torch.nn.init.normal_(models[kind][0].head.weight, std=0.05)
    for kind, (model, cfg) in models.items():
        save_checkpoint(root / kind, model, kind, cfg.to_dict())
    write_manifest(root, {k: k for k in models}, 0.0, 1.0, CLIP, "minilm", {"temperature": 0.0, "top_k": 0})
    return root


@pytest.fixture(scope="module")
def separator(checkpoint):
    return Separator.from_pretrained(checkpoint)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 3.7])
def test_separate_keeps_rate_and_length(separator, seconds):
    sr = 22050
    wave = np.random.default_rng(0).standard_normal((int(seconds * sr), 2)).astype(np.float32) * 0.1  # stereo
    out = separator.separate(wave, sr, "remove the dog barking")
    assert out.shape == (int(seconds * sr),) and np.isfinite(out).all()


@pytest.mark.parametrize("join", ["tokens", "waveform"])
def test_both_joins_separate_long_inputs(checkpoint, join):
    sep = Separator.from_pretrained(checkpoint, join=join)
    wave = np.random.default_rng(2).standard_normal(int(3.3 * CLIP)).astype(np.float32) * 0.1
    out = sep.separate(wave, 16000, "keep the dog barking")
    assert out.shape == wave.shape and np.isfinite(out).all()


def test_long_token_sequences_are_decoded_in_crossfaded_chunks():
    import torch

    from hsm_lib.models.codec import Codec, CodecConfig

    torch.manual_seed(0)
    codec = Codec(CodecConfig(channels=2, strides=[2, 4, 5, 8], latent_dim=12, groups=2, codebook_size=16)).eval()
    tokens = codec.encode(torch.randn(1, 333 * codec.cfg.hop) * 0.1)[0]
    whole = codec.decode(tokens[None])[0].numpy()
    assert np.array_equal(decode_in_chunks(codec, tokens, chunk=400), whole)          # short enough: one decode
    chunked = decode_in_chunks(codec, tokens, chunk=100, overlap=20)
    assert chunked.shape == whole.shape and np.isfinite(chunked).all()
    # away from the chunk joins (this codec reaches a few frames), the chunks are the one decode
    hop = codec.cfg.hop
    np.testing.assert_allclose(chunked[10 * hop:70 * hop], whole[10 * hop:70 * hop], atol=1e-5)


def test_the_cli_offers_the_separators_joins():
    from hsm_lib.cli import SEPARATOR_JOINS
    from hsm_lib.pipeline import JOINS

    assert SEPARATOR_JOINS == JOINS


def test_auto_join_follows_the_decoder(separator):
    assert separator.join == "auto" and separator.join_method == "tokens"        # an autoregressive LM
    assert separator.overlap_samples % separator.codec.cfg.hop == 0
    with pytest.raises(ValueError, match="join"):
        Separator(*[None] * 12, join="crossfade")


def test_the_instruction_reaches_the_semantic_stages(separator):
    import torch

    windows = np.random.default_rng(1).standard_normal((2, CLIP)).astype(np.float32) * 0.1
    extract = separator.local_features(windows, "extraction", "a dog barking")
    assert extract.shape == (2, separator.audiomae.cfg.n_patches, separator.audiomae.cfg.dim)
    assert not torch.allclose(extract, separator.local_features(windows, "removal", "a dog barking"))
    assert not torch.allclose(extract, separator.local_features(windows, "extraction", "a piano melody"))


def test_checkpoint_missing_a_model_is_named(checkpoint, tmp_path):
    import shutil

    broken = tmp_path / "ckpt"
    shutil.copytree(checkpoint, broken)
    (broken / "h2" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="h2.*model.safetensors"):
        Separator.from_pretrained(broken)


# --- the command line ------------------------------------------------------------------------------

def _write(path, seconds=1.5, sr=16000):
    import soundfile as sf

    sf.write(str(path), (np.random.default_rng(2).standard_normal(int(seconds * sr)) * 0.1).astype(np.float32), sr)
    return path


def _run(args, capsys):
    from hsm_lib.cli import main

    rc = main(args)
    return rc, capsys.readouterr()


def test_cli_separates_files_and_folders(checkpoint, tmp_path, capsys):
    import soundfile as sf

    (tmp_path / "in" / "sub").mkdir(parents=True)
    a = _write(tmp_path / "in" / "a.wav", 0.5, 16000)
    _write(tmp_path / "in" / "sub" / "b.flac", 3.5, 44100)
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    rc, cap = _run(["separate", str(tmp_path / "in"), str(a), "-q", "Remove the dog barking.", "-o", str(out),
                    "--checkpoint", str(checkpoint)], capsys)
    assert rc == 0, cap.err
    assert sorted(p.name for p in out.iterdir()) == ["a.remove-the-dog-barking.wav", "a_2.remove-the-dog-barking.wav",
                                                     "b.remove-the-dog-barking.wav"]
    info = sf.info(str(out / "b.remove-the-dog-barking.wav"))
    assert info.samplerate == 44100 and info.frames == int(3.5 * 44100)
    assert "removal of 'the dog barking'" in cap.err


def test_cli_both_stems_and_two_instructions_into_one_folder(checkpoint, tmp_path, capsys, monkeypatch):
    import soundfile as sf

    asked = []
    original = Separator.separate

    def spy(self, wave, sr, instruction, progress=False):
        asked.append((instruction.task, instruction.caption))
        return original(self, wave, sr, instruction, progress)

    monkeypatch.setattr(Separator, "separate", spy)
    song = _write(tmp_path / "song.wav", 1.2)
    out = tmp_path / "out"
    base = [str(song), "-o", str(out), "--checkpoint", str(checkpoint), "--device", "auto"]
    rc, cap = _run(["separate", *base, "-q", "remove everything except the piano", "--both"], capsys)
    assert rc == 0, cap.err
    rc, cap = _run(["separate", *base, "-q", "isolate the dog barking"], capsys)
    assert rc == 0, cap.err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["song.extract-the-dog-barking.wav", "song.extract-the-piano.wav", "song.remove-the-piano.wav"]
    assert asked == [("extraction", "the piano"), ("removal", "the piano"), ("extraction", "the dog barking")]
    assert {sf.info(str(out / n)).frames for n in names} == {int(1.2 * 16000)}


def test_cli_options_reach_the_separator(checkpoint, tmp_path, capsys, monkeypatch):
    import soundfile as sf

    made = []
    original = Separator.from_pretrained.__func__

    def spy(cls, directory, **kwargs):
        made.append(original(cls, directory, **kwargs))
        return made[-1]

    monkeypatch.setattr(Separator, "from_pretrained", classmethod(spy))
    song = _write(tmp_path / "song.wav", 2.5)
    rc, cap = _run(["separate", str(song), "-q", "extract the bird", "-o", str(tmp_path / "out"), "--checkpoint",
                    str(checkpoint), "--seed", "7", "--overlap", "0.25", "--batch-size", "1", "--device", "cpu"], capsys)
    assert rc == 0, cap.err
    sep = made[0]
    assert (sep.seed, sep.overlap_seconds, sep.batch_size, sep.device.type) == (7, 0.25, 1, "cpu")
    assert sf.info(str(tmp_path / "out" / "song.extract-the-bird.wav")).frames == int(2.5 * 16000)


def test_outputs_follow_the_umask(checkpoint, tmp_path, capsys):
    import os

    song = _write(tmp_path / "song.wav", 0.5)
    old = os.umask(0o027)
    try:
        rc, cap = _run(["separate", str(song), "-q", "extract the bird", "-o", str(tmp_path / "out"),
                        "--checkpoint", str(checkpoint)], capsys)
    finally:
        os.umask(old)
    assert rc == 0, cap.err
    assert (tmp_path / "out" / "song.extract-the-bird.wav").stat().st_mode & 0o777 == 0o640


def test_cli_reads_what_ffmpeg_reads(checkpoint, tmp_path, capsys):
    import shutil
    import subprocess

    import soundfile as sf

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    wav = _write(tmp_path / "src.wav", 1.0, 22050)
    m4a = tmp_path / "talk.m4a"   # AAC in MP4: not a libsndfile format
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    rc, cap = _run(["separate", str(m4a), "-q", "extract the speech", "-o", str(tmp_path / "out"),
                    "--checkpoint", str(checkpoint)], capsys)
    assert rc == 0, cap.err
    info = sf.info(str(tmp_path / "out" / "talk.extract-the-speech.wav"))
    assert info.samplerate == 22050 and abs(info.frames - 22050) < 2048   # AAC pads a frame or two


def test_the_package_root_exports_the_separator():
    import hsm_lib
    from hsm_lib import Separator as root_separator

    assert root_separator is Separator and "Separator" in hsm_lib.__all__


@pytest.mark.parametrize("case", ["missing", "unreadable", "empty_audio", "empty_query", "no_checkpoint",
                                  "incomplete_checkpoint", "empty_folder", "nan_samples", "output_is_a_file",
                                  "no_ffmpeg", "bad_overlap"])
def test_cli_bad_input_is_one_clear_line_and_no_output(case, checkpoint, tmp_path, capsys, monkeypatch):
    import shutil

    import soundfile as sf

    good = _write(tmp_path / "good.wav")
    inputs, query, ckpt = [str(good)], "extract the piano", str(checkpoint)
    expect = {"missing": "no such file", "unreadable": "cannot read audio", "empty_audio": "zero-length audio",
              "empty_query": "empty", "no_checkpoint": "does not exist", "incomplete_checkpoint": "codec",
              "empty_folder": "no audio files", "nan_samples": "not finite", "output_is_a_file": "existing file",
              "no_ffmpeg": "ffmpeg", "bad_overlap": "--overlap"}[case]
    out = tmp_path / "out"
    extra = []
    if case == "missing":
        inputs.append(str(tmp_path / "nope.wav"))
    elif case == "unreadable":
        (tmp_path / "bad.wav").write_bytes(b"RIFF garbage")
        inputs.append(str(tmp_path / "bad.wav"))
    elif case == "empty_audio":
        sf.write(str(tmp_path / "silent.wav"), np.zeros(0, np.float32), 16000)
        inputs.append(str(tmp_path / "silent.wav"))
    elif case == "empty_query":
        query = "   "
    elif case == "no_checkpoint":
        ckpt = str(tmp_path / "no_models")
    elif case == "incomplete_checkpoint":
        shutil.copytree(checkpoint, tmp_path / "partial")
        shutil.rmtree(tmp_path / "partial" / "codec")
        ckpt = str(tmp_path / "partial")
    elif case == "empty_folder":
        (tmp_path / "nothing").mkdir()
        inputs.append(str(tmp_path / "nothing"))
    elif case == "nan_samples":
        wave = np.zeros(16000, np.float32)
        wave[1234] = np.nan
        sf.write(str(tmp_path / "nan.wav"), wave, 16000, subtype="FLOAT")
        inputs.append(str(tmp_path / "nan.wav"))
    elif case == "output_is_a_file":
        out.write_text("a file where the folder should go")
    elif case == "no_ffmpeg":
        import hsm_lib.audio_files

        (tmp_path / "talk.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + bytes(64))
        inputs.append(str(tmp_path / "talk.m4a"))
        monkeypatch.setattr(hsm_lib.audio_files.shutil, "which", lambda name: None)
    elif case == "bad_overlap":
        extra = ["--overlap", "-1"]
    rc, cap = _run(["separate", *inputs, "-q", query, "-o", str(out), "--checkpoint", ckpt, *extra], capsys)
    assert rc == 1
    assert cap.err.startswith("hsm-tss: error:") and cap.err.count("\n") == 1 and expect in cap.err, cap.err
    assert not out.is_dir() or not any(out.iterdir())  # nothing written, not even a partial file
