"""Opus at a given bitrate, as a real codec to set beside ours in the Table VIII analog.

Uses the Debian ``opus-tools`` binaries (``opusenc``/``opusdec``, installed by setup.sh):
hard constant bitrate, decoded back to 16 kHz; the decoder removes Opus's pre-skip, and the
result is cropped or zero-padded to the input's length.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from hsm_lib.audio import SAMPLE_RATE


def opus_available() -> bool:
    return shutil.which("opusenc") is not None and shutil.which("opusdec") is not None


def opus_roundtrip(wave: np.ndarray, bitrate_kbps: float = 6.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Encode ``wave`` [T] (float, mono) with Opus at ``bitrate_kbps`` (hard CBR) and decode it.
    -> [T] float32 at ``sr``."""
    if not opus_available():
        raise RuntimeError("opusenc/opusdec not found: install Debian's opus-tools (scripts/setup.sh does)")
    wave = np.asarray(wave, dtype=np.float32)
    with tempfile.TemporaryDirectory() as d:
        src, enc, dec = Path(d) / "in.wav", Path(d) / "x.opus", Path(d) / "out.wav"
        sf.write(src, np.clip(wave, -1, 1), sr, subtype="PCM_16")
        subprocess.run(["opusenc", "--quiet", "--hard-cbr", "--bitrate", str(bitrate_kbps), str(src), str(enc)],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(["opusdec", "--quiet", "--rate", str(sr), str(enc), str(dec)], check=True, capture_output=True, timeout=120)
        out, out_sr = sf.read(dec, dtype="float32", always_2d=True)
    out = out.mean(axis=1)
    if out_sr != sr:
        raise RuntimeError(f"opusdec returned {out_sr} Hz, asked for {sr}")
    return np.pad(out[: len(wave)], (0, max(0, len(wave) - len(out))))

