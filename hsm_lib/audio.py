"""Audio front end: reading, resampling, mixing at an SNR, and the AudioMAE fbank.

Everything in the project runs at 16 kHz mono float32. ``load_audio`` takes any file
``soundfile`` reads, at any rate and channel count, to that form. ``fbank`` is the
Kaldi-compatible log-mel front end AudioMAE uses (128 mel bins, 25 ms Hanning window,
10 ms shift, HTK-compatible, no energy, no dither, DC removed), padded or cropped to a
fixed number of frames and normalised with the corpus mean/std from the data stage.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

SAMPLE_RATE = 16_000
N_MELS = 128


class AudioError(ValueError):
    """An input file that cannot be used, with a message naming the file and the problem."""


def to_mono(audio: np.ndarray) -> np.ndarray:
    """[T] or [T, C] -> [T] float32 by averaging channels."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling of a mono signal [T] -> [T * target_sr / orig_sr]."""
    if orig_sr == target_sr:
        return np.asarray(audio, dtype=np.float32)
    if orig_sr <= 0:
        raise AudioError(f"invalid sample rate {orig_sr}")
    g = math.gcd(int(orig_sr), int(target_sr))
    with torch.no_grad():
        out = _resampler(int(orig_sr) // g, int(target_sr) // g)(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
    return out.numpy()


@lru_cache(maxsize=64)
def _resampler(orig: int, new: int) -> torchaudio.transforms.Resample:
    # Building the sinc kernel costs more than applying it to a short sound: keep it.
    return torchaudio.transforms.Resample(orig, new)


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a file as ``(samples[T] float32 mono, sample_rate)``, channels averaged, no resampling."""
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(to_mono(audio)), int(sr)


def load_audio(path: str | Path, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read any soundfile-readable file -> mono float32 [T] at ``target_sr``.

    Raises :class:`AudioError` naming the file when it is missing, unreadable or empty.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if audio.shape[0] == 0:
        raise AudioError(f"{path}: zero-length audio")
    return resample(to_mono(audio), int(sr), target_sr)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad the last axis to exactly ``length`` samples."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])]
    return np.pad(audio, pad)


def power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def snr_db(target: np.ndarray, other: np.ndarray) -> float:
    """10 log10(P_target / P_other)."""
    return 10.0 * math.log10(power(target) / max(power(other), 1e-20))


def mix_at_snr(target: np.ndarray, other: np.ndarray, snr: float, peak: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale ``other`` so that the target-to-other ratio is ``snr`` dB, then apply one
    common gain so the mixture's peak is at most ``peak``.

    Returns (mixture, target, other) [T] float32 with ``mixture == target + other``.
    """
    if target.shape != other.shape:
        raise ValueError(f"shapes differ: target {target.shape}, other {other.shape}")
    pt, po = power(target), power(other)
    if pt <= 0 or po <= 0:
        raise ValueError("cannot mix a silent signal at an SNR")
    other = other * np.float32(math.sqrt(pt / (po * 10 ** (snr / 10))))
    mixture = target + other
    loudest = max(float(np.abs(mixture).max()), float(np.abs(target).max()), float(np.abs(other).max()))
    gain = np.float32(min(1.0, peak / max(loudest, 1e-9)))
    target, other = (target * gain).astype(np.float32), (other * gain).astype(np.float32)
    return target + other, target, other


FBANK_SHIFT_MS = 10  # fbank frame shift: 100 frames per second


def fbank(wave: torch.Tensor | np.ndarray, n_frames: int, sample_rate: int = SAMPLE_RATE,
          n_mels: int = N_MELS) -> torch.Tensor:
    """AudioMAE's Kaldi-compatible log-mel filterbank.

    Args:
        wave: [T] mono waveform at ``sample_rate`` (16 kHz).
        n_frames: frames to pad (with zeros, after the log) or crop to.
    Returns:
        [n_frames, n_mels] float32 log-mel energies (not yet normalised).
    """
    wave = torch.as_tensor(wave, dtype=torch.float32).reshape(1, -1)
    wave = wave - wave.mean()  # DC removal, as AudioMAE does before Kaldi fbank
    feats = torchaudio.compliance.kaldi.fbank(
        wave, htk_compat=True, sample_frequency=sample_rate, use_energy=False,
        window_type="hanning", num_mel_bins=n_mels, dither=0.0, frame_shift=FBANK_SHIFT_MS, frame_length=25,
    )
    if feats.shape[0] < n_frames:
        feats = torch.nn.functional.pad(feats, (0, 0, 0, n_frames - feats.shape[0]))
    return feats[:n_frames]


def normalise_fbank(feats: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """AudioMAE normalisation: (x - mean) / (2 std), with the corpus statistics."""
    return (feats - mean) / (2.0 * std)


def window_starts(length: int, window: int, hop: int) -> list[int]:
    """Starts of windows of ``window`` samples every ``hop`` that cover [0, length) (at least one)."""
    if length <= window:
        return [0]
    n = -(-(length - window) // hop) + 1
    return [i * hop for i in range(n)]
