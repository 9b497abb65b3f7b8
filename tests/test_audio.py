"""The audio front end: reading, resampling, mixing at an SNR, the AudioMAE fbank."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from hsm_lib.audio import AudioError, fbank, fit_length, load_audio, mix_at_snr, normalise_fbank, resample, snr_db


def _tone(freq: float, sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[spec.argmax()])


def test_load_stereo_44k_file_to_mono_16k(tmp_path):
    left, right = _tone(440, 44100, 1.5), _tone(1000, 44100, 1.5)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 44100)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 24000) <= 1  # 1.5 s at 16 kHz
    # Both channels survive the mix-down, at the right frequencies after resampling.
    spec = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(audio.size, 1 / 16000)
    top2 = sorted(freqs[np.argsort(spec)[-2:]])
    assert top2 == pytest.approx([440, 1000], abs=2)


@pytest.mark.parametrize("sr", [8000, 22050, 48000])
def test_resample_keeps_frequency_and_duration(sr):
    x = _tone(300, sr, 1.0)
    y = resample(x, sr, 16000)
    assert abs(y.size - 16000) <= 1
    assert _dominant_hz(y, 16000) == pytest.approx(300, abs=2)


@pytest.mark.parametrize("problem", ["missing", "empty", "garbage", "directory"])
def test_load_audio_errors_name_the_file(tmp_path, problem):
    path = tmp_path / "bad.wav"
    if problem == "empty":
        sf.write(path, np.zeros((0, 1), dtype=np.float32), 16000)
    elif problem == "garbage":
        path.write_bytes(b"not audio at all" * 10)
    elif problem == "directory":
        path.mkdir()
    with pytest.raises(AudioError, match="bad.wav"):
        load_audio(path)


def test_fit_length_crops_and_pads():
    x = np.arange(10, dtype=np.float32)
    assert fit_length(x, 4).tolist() == [0, 1, 2, 3]
    assert fit_length(x, 12).tolist() == list(range(10)) + [0, 0]


@pytest.mark.parametrize("snr", [-15.0, -3.3, 0.0, 7.5, 15.0])
def test_mix_at_snr(snr):
    rng = np.random.default_rng(0)
    t, o = rng.standard_normal(16000).astype(np.float32), 3 * rng.standard_normal(16000).astype(np.float32)
    m, t2, o2 = mix_at_snr(t, o, snr)
    assert snr_db(t2, o2) == pytest.approx(snr, abs=1e-4)
    np.testing.assert_array_equal(m, t2 + o2)
    assert np.abs(m).max() <= 0.9 + 1e-6
    # The common gain scales both sources alike: the target keeps its shape.
    assert np.corrcoef(t, t2)[0, 1] == pytest.approx(1.0, abs=1e-6)


def test_fbank_matches_kaldi_definition():
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal(16000) + 0.05).astype(np.float32)  # with a DC offset
    feats = fbank(wave, n_frames=112)
    assert feats.shape == (112, 128)
    w = torch.from_numpy(wave)[None]
    ref = torchaudio.compliance.kaldi.fbank(w - w.mean(), htk_compat=True, sample_frequency=16000, use_energy=False,
                                            window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
    assert ref.shape[0] == 98  # 1 s: (16000 - 400) // 160 + 1
    torch.testing.assert_close(feats[:98], ref)
    assert torch.all(feats[98:] == 0)  # padded after the log, as AudioMAE pads
    # DC removal: adding a constant changes nothing.
    torch.testing.assert_close(fbank(wave + 0.3, 112), feats, atol=1e-3, rtol=1e-4)
    assert fbank(wave, n_frames=50).shape == (50, 128)  # cropping
    normed = normalise_fbank(feats[:98], float(feats[:98].mean()), float(feats[:98].std()))
    assert float(normed.mean()) == pytest.approx(0.0, abs=1e-4) and float(normed.std()) == pytest.approx(0.5, abs=1e-3)
