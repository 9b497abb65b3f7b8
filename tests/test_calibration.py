"""Calibration rows: the low-pass, the Opus round trip and the interferer, built from the same clips."""

from __future__ import annotations

import numpy as np
import pytest

from hsm_lib.eval.calibration import INTERFERER, LOWPASS, OPUS, calibration_outputs, lowpass
from hsm_lib.eval.opus import opus_available


def _sine(f: float, n: int = 16000, sr: int = 16000) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * f * np.arange(n) / sr)).astype(np.float32)


def _db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x[2000:-2000] ** 2))))


def test_lowpass_keeps_the_band_and_removes_above_4_khz():
    low, high = _sine(1000), _sine(6000)
    assert _db(lowpass(low[None])[0]) == pytest.approx(_db(low), abs=0.1)
    assert _db(lowpass(high[None])[0]) < _db(high) - 40
    with pytest.raises(ValueError, match="Nyquist"):
        lowpass(low, cutoff_hz=9000)


@pytest.mark.skipif(not opus_available(), reason="opus-tools not installed")
def test_calibration_rows_come_from_the_same_clips():
    rng = np.random.default_rng(0)
    targets = np.stack([_sine(440), _sine(3000) + 0.05 * rng.standard_normal(16000).astype(np.float32)])
    others = 0.1 * rng.standard_normal((2, 16000)).astype(np.float32)
    rows = calibration_outputs(targets, others)
    assert set(rows) == {OPUS, LOWPASS, INTERFERER}
    assert all(r.shape == targets.shape and r.dtype == np.float32 for r in rows.values())
    assert np.array_equal(rows[INTERFERER], others)
    # Opus at 6 kbps keeps a 440 Hz tone's level and pitch, not its waveform
    opus = rows[OPUS][0]
    assert _db(opus) == pytest.approx(_db(targets[0]), abs=3.0) and not np.allclose(opus, targets[0], atol=1e-3)
    assert np.argmax(np.abs(np.fft.rfft(opus))) == 440                   # 1 Hz bins over 1 s
    with pytest.raises(ValueError, match="same shape"):
        calibration_outputs(targets, others[:1])
