"""Signal metrics, each a function of (estimate, reference), mono, 16 kHz (see DATA.md).

* :func:`lsd` -- log-spectral distance as audioldm_eval computes it (ssr_eval's
  ``AudioMetrics``): DC removed, both peak-normalised, centred Hann STFT with hop sr/100 and
  n_fft int(2048 sr / 44100); d = log10(ref^2 / (est + eps)^2 + eps)^2 per bin; LSD = mean over
  frames of sqrt(mean over frequency of d). Lower is better; LSD(x, x) = 0 for audio with a
  noise floor.
* :func:`mel_psnr` -- audioldm_eval's PSNR: 64-band mel (n_fft 512, hop 160, 50-8000 Hz),
  ``20 log10(clamp(mel, 1e-5)) - 20``, mapped by ``(x + 100) / 100`` into [0, 1], PSNR with
  data range 1. Identical inputs would give infinity; we cap at :data:`PSNR_CAP` dB.
* :func:`si_sdr` -- scale-invariant SDR (Le Roux et al., 2019), dB, zero-mean signals.
* :func:`mel_distance` -- the codec literature's "mel distance" (DAC, EnCodec): mean L1 between
  log10 mel magnitudes (80 bands) over window sizes 512, 1024 and 2048.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torchaudio

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.eval.visqol_pool import VISQOL_RATE, moslqo, moslqo_many

LSD_EPS = 1e-12
PSNR_CAP = 100.0


def _as_tensor(x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    if t.dim() != 1:
        raise ValueError(f"metrics take one mono signal [T], got shape {list(t.shape)}")
    return t


def _crop(est, ref) -> tuple[torch.Tensor, torch.Tensor]:
    est, ref = _as_tensor(est), _as_tensor(ref)
    n = min(len(est), len(ref))
    if n == 0:
        raise ValueError("empty signal")
    return est[:n], ref[:n]


# --- LSD -------------------------------------------------------------------------------------------


def _lsd_spectrogram(x: torch.Tensor, sr: int) -> torch.Tensor:
    n_fft, hop = int(2048 / (44100 / sr)), int(sr / 100)
    window = torch.hann_window(n_fft, dtype=x.dtype)
    return torch.stft(x, n_fft, hop_length=hop, window=window, center=True, pad_mode="constant", return_complex=True).abs()


def _lsd_input(x: torch.Tensor, sr: int) -> torch.Tensor:
    """The LSD's spectrogram [freq, frames] of ``x`` [T] after its DC removal and peak normalisation."""
    x = x - x.mean()
    return _lsd_spectrogram(x / x.abs().max().clamp_min(1e-12), sr)


class Reference:
    """A reference signal whose LSD spectrogram and PSNR mel are computed once, to score many
    estimates of the same length against it (one per system in the evaluation): the same numbers
    as passing the raw reference, bit for bit. An estimate of another length falls back to the
    raw signal, cropped as usual."""

    def __init__(self, reference, sr: int = SAMPLE_RATE):
        self.wave, self.sr = _as_tensor(reference), sr
        self._spectra: dict[str, torch.Tensor] = {}

    def spectrum(self, kind: str) -> torch.Tensor:
        """``kind`` "lsd": the LSD spectrogram [freq, frames]; "psnr": the PSNR mel [64, frames]."""
        if kind not in self._spectra:
            self._spectra[kind] = _lsd_input(self.wave, self.sr) if kind == "lsd" else _psnr_mel(self.wave, self.sr)
        return self._spectra[kind]


def _reference_spectrum(estimate, reference, sr: int, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(the estimate cropped, the reference's ``kind`` spectrum at the cropped length)."""
    if isinstance(reference, Reference):
        est = _as_tensor(estimate)
        if len(est) == len(reference.wave) and reference.sr == sr:
            return est, reference.spectrum(kind)
        reference = reference.wave
    est, ref = _crop(estimate, reference)
    return est, _lsd_input(ref, sr) if kind == "lsd" else _psnr_mel(ref, sr)


def lsd(estimate, reference, sr: int = SAMPLE_RATE) -> float:
    """``reference``: a signal [T], or a :class:`Reference` built from one."""
    est, r = _reference_spectrum(estimate, reference, sr, "lsd")     # r: [freq, frames]
    e = _lsd_input(est, sr)
    d = torch.log10(r ** 2 / (e + LSD_EPS) ** 2 + LSD_EPS) ** 2
    return float(d.mean(0).sqrt().mean())


# --- mel PSNR --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _psnr_mel_basis(sr: int) -> torch.Tensor:
    return torchaudio.functional.melscale_fbanks(257, 50.0, 8000.0, 64, sr, norm="slaney", mel_scale="slaney").double()


def _psnr_mel(x: torch.Tensor, sr: int) -> torch.Tensor:
    spec = torch.stft(x, 512, hop_length=160, win_length=512, window=torch.hann_window(512, dtype=x.dtype),
                      center=True, pad_mode="reflect", return_complex=True).abs()     # [257, frames]
    mel = (_psnr_mel_basis(sr).T @ spec).clamp_min(1e-5)
    db = 20 * torch.log10(mel) - 20
    return ((db + 100) / 100).clamp(0, 1)


def mel_psnr(estimate, reference, sr: int = SAMPLE_RATE) -> float:
    """``reference``: a signal [T], or a :class:`Reference` built from one."""
    est, ref_mel = _reference_spectrum(estimate, reference, sr, "psnr")
    mse = float(((_psnr_mel(est, sr) - ref_mel) ** 2).mean())
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else 10 * float(np.log10(1.0 / mse))


# --- SI-SDR ------------------------------------------------------------------------------------------


def si_sdr(estimate, reference) -> float:
    est, ref = _crop(estimate, reference)
    est, ref = est - est.mean(), ref - ref.mean()
    scale = (est @ ref) / (ref @ ref).clamp_min(1e-12)
    target = scale * ref
    noise = est - target
    return float(10 * torch.log10((target @ target).clamp_min(1e-12) / (noise @ noise).clamp_min(1e-12)))


def si_sdr_improvement(estimate, reference, mixture) -> float:
    """SI-SDRi: SI-SDR of the estimate minus SI-SDR of the unprocessed mixture."""
    return si_sdr(estimate, reference) - si_sdr(mixture, reference)


# --- mel distance ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _mel_basis(n_fft: int, sr: int) -> torch.Tensor:
    return torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, sr / 2, 80, sr, norm="slaney", mel_scale="slaney").double()


def mel_distance(estimate, reference, sr: int = SAMPLE_RATE, windows: tuple[int, ...] = (512, 1024, 2048)) -> float:
    est, ref = _crop(estimate, reference)
    total = 0.0
    for n in windows:
        w = torch.hann_window(n, dtype=est.dtype)
        mags = [torch.stft(x, n, hop_length=n // 4, window=w, center=True, return_complex=True).abs() for x in (est, ref)]
        mels = [torch.log10((_mel_basis(n, sr).T @ m).clamp_min(1e-5)) for m in mags]
        total += float((mels[0] - mels[1]).abs().mean())
    return total / len(windows)


# --- ViSQOL ------------------------------------------------------------------------------------------


def _visqol_pair(estimate, reference, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(reference, estimate) cropped to a common length and resampled to 48 kHz, float64."""
    from hsm_lib.audio import resample

    est, ref = _crop(estimate, reference)
    e = resample(est.numpy().astype(np.float32), sr, VISQOL_RATE).astype(np.float64)
    r = resample(ref.numpy().astype(np.float32), sr, VISQOL_RATE).astype(np.float64)
    return r, e


def visqol(estimate, reference, sr: int = SAMPLE_RATE) -> float:
    """ViSQOL v3 audio mode (``visqol-python``): MOS-LQO in [1, 5], higher is better. Both
    signals are resampled to the 48 kHz the audio model expects. About a second per clip."""
    return moslqo(_visqol_pair(estimate, reference, sr))


def visqol_many(estimates, references, sr: int = SAMPLE_RATE, workers: int | None = None) -> list[float]:
    """:func:`visqol` of each (estimate, reference) pair, the pairs scored on ``workers``
    processes (default one per core; :mod:`hsm_lib.eval.visqol_pool`): the same numbers, sooner
    (equal to about 1e-15 relative: a worker may sum in another order)."""
    return moslqo_many([_visqol_pair(e, r, sr) for e, r in zip(estimates, references)], workers)
