"""The arithmetic of a triplet's mixture: one function, whichever storage a set uses.

A pre-mixed set applies it once when written; a records set (:mod:`hsm_lib.data.streaming`)
applies it each time a pair is read. Both give the same int16 samples because both call
:func:`apply_gains` with the same stored gains.
"""

from __future__ import annotations

import numpy as np

INT16_SCALE = 32768.0
MIX_PEAK = 0.9  # the mixture's peak after the common gain; keeps int16 far from clipping


def quantise(x: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1) -> int16, rounded and clipped."""
    return np.clip(np.round(x * INT16_SCALE), -32768, 32767).astype(np.int16)


def mix_gains(target: np.ndarray, other: np.ndarray, snr: float) -> tuple[float, float]:
    """(the other's gain for ``snr`` dB, the common gain that keeps every signal under MIX_PEAK).

    ``target``, ``other``: [L] float32. The gains are returned as Python floats; the other's is
    exactly a float32 value, so storing both as float64 loses nothing.
    """
    pt, po = float(np.mean(target.astype(np.float64) ** 2)), float(np.mean(other.astype(np.float64) ** 2))
    other_gain = np.float32(np.sqrt(pt / (po * 10 ** (snr / 10))))
    other = other * other_gain
    # The common gain bounds the mixture *and* each source: where the two cancel, a source
    # can peak above the mixture, and int16 would clip it (then target + other != mixture).
    peak = max(float(np.abs(target + other).max()), float(np.abs(target).max()), float(np.abs(other).max()))
    return float(other_gain), MIX_PEAK / max(peak, 1e-9)


def apply_gains(target: np.ndarray, other: np.ndarray, other_gain: float, gain: float) -> np.ndarray:
    """[2, L] int16 (target, other) from [L] float32 sources and the gains of :func:`mix_gains`."""
    other = other * np.float32(other_gain)
    return np.stack([quantise(target * gain), quantise(other * gain)])


def mix_pair(target: np.ndarray, other: np.ndarray, snr: float) -> np.ndarray:
    """[2, L] int16 (target, other) at ``snr`` dB, scaled so no signal peaks above MIX_PEAK."""
    return apply_gains(target, other, *mix_gains(target, other, snr))
