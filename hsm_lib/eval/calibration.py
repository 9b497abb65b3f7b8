"""Calibration rows: known degradations of the target, scored like any output, so that a reader
knows what a number means (a KL of 3 is Opus-at-6-kbps quality; a KL of 7 is the wrong sound).

Each row is built from the same test clips as the systems beside it:

* the target through Opus at 6 kbps (a real codec at our codec's bitrate);
* the target low-passed at 4 kHz (half the band gone, the sound still recognisable);
* the interferer as output (the wrong source: what a separator that picks the other sound scores).

The unprocessed mixture, the floor, is a row of its own in every table already.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.eval.opus import opus_roundtrip

MIXTURE = "mixture, unprocessed (the floor)"
OPUS = "target through Opus 6 kbps (calibration)"
LOWPASS = "target low-passed at 4 kHz (calibration)"
INTERFERER = "the interferer as output (calibration)"
CALIBRATION = (OPUS, LOWPASS, INTERFERER)


def lowpass(waves: np.ndarray, cutoff_hz: float = 4000.0, sr: int = SAMPLE_RATE, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass of ``waves`` [..., L] -> [..., L] float32."""
    if not 0 < cutoff_hz < sr / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie strictly between 0 and Nyquist ({sr / 2} Hz)")
    sos = butter(order, cutoff_hz, btype="low", fs=sr, output="sos")
    return sosfiltfilt(sos, np.asarray(waves, np.float64), axis=-1).astype(np.float32)


def calibration_for(items: list[dict]) -> dict[str, np.ndarray]:
    """Every calibration row and the mixture (the floor) for test triplets ``items`` (each with
    "target", "other" and "mixture" [L]): row name -> outputs [N, L]."""
    rows = calibration_outputs(np.stack([it["target"] for it in items]), np.stack([it["other"] for it in items]))
    return {**rows, MIXTURE: np.stack([it["mixture"] for it in items]).astype(np.float32)}


def calibration_outputs(targets: np.ndarray, interferers: np.ndarray, opus_kbps: float = 6.0) -> dict[str, np.ndarray]:
    """Row name -> its outputs [N, L], from ``targets`` and ``interferers`` [N, L] (16 kHz)."""
    targets = np.asarray(targets, np.float32)
    if targets.shape != np.shape(interferers):
        raise ValueError(f"targets {targets.shape} and interferers {np.shape(interferers)} must have the same shape")
    return {OPUS: np.stack([opus_roundtrip(t, opus_kbps) for t in targets]).astype(np.float32),
            LOWPASS: lowpass(targets),
            INTERFERER: np.asarray(interferers, np.float32)}
