"""Reading what users hand the separator: any file libsndfile reads, and anything else ffmpeg does.

    wave, sr = read_audio_file("talk.m4a")      # [T] float32 mono, the file's own rate

libsndfile (through ``soundfile``) reads WAV, FLAC, Ogg and, in recent builds, MP3, without a
subprocess. For the rest (AAC/M4A, Opus in WebM, WMA, a video's sound track...) we ask ffmpeg to
decode to raw float32 on a pipe, mixed down to mono at the file's own rate: the separator works
on mono, and a mono 10-minute 44.1-kHz file is 106 MB of float32, where a stereo float64 copy
would be four times that.

Every problem is an :class:`~hsm_lib.audio.AudioError` that names the file: unreadable, empty,
ffmpeg needed but not installed, or samples that are not finite (NaN or inf, which would
otherwise flow silently through the models and come out as silence or noise).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from hsm_lib.audio import AudioError, to_mono

# what a folder is searched for; any other file can still be named explicitly
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a", ".aac",
                            ".wma", ".webm", ".mka", ".mp4", ".ac3", ".amr", ".caf", ".au"})


def _soundfile_info(path: Path):
    import soundfile as sf

    try:
        return sf.info(str(path))
    except Exception:
        return None


def _ffprobe(path: Path) -> dict:
    """The first audio stream's sample rate, channels and duration, from ffprobe."""
    if shutil.which("ffprobe") is None:
        raise AudioError(f"{path}: cannot read audio (libsndfile does not read this format, and ffmpeg, which "
                         "would, is not installed; install it, e.g. 'apt install ffmpeg' or 'conda install ffmpeg')")
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                           "stream=sample_rate,channels,duration", "-of", "json", str(path)],
                          capture_output=True, text=True)
    streams = json.loads(proc.stdout or "{}").get("streams", []) if proc.returncode == 0 else []
    if not streams:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no audio stream"
        raise AudioError(f"{path}: cannot read audio ({why})")
    return streams[0]


def check_audio_file(path: str | Path) -> None:
    """Raise :class:`AudioError` naming ``path`` if it cannot be read or holds no samples (cheap:
    the header only, so every input is checked before any is separated)."""
    path = Path(path)
    info = _soundfile_info(path)
    if info is not None:
        if info.frames == 0:
            raise AudioError(f"{path}: zero-length audio")
        return
    stream = _ffprobe(path)
    if stream.get("duration") not in (None, "N/A") and float(stream["duration"]) <= 0:
        raise AudioError(f"{path}: zero-length audio")


def _read_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    sr = int(_ffprobe(path)["sample_rate"])
    proc = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-ac", "1",
                           "-ar", str(sr), "-f", "f32le", "-acodec", "pcm_f32le", "-"], capture_output=True)
    if proc.returncode != 0:
        raise AudioError(f"{path}: ffmpeg could not decode it ({proc.stderr.decode(errors='replace').strip()[-300:]})")
    return np.frombuffer(proc.stdout, dtype=np.float32), sr


def read_audio_file(path: str | Path) -> tuple[np.ndarray, int]:
    """A file -> (mono float32 samples [T], its sample rate). Channels are averaged.

    Raises :class:`AudioError` naming the file when it cannot be read, is empty, or holds
    non-finite samples (it says how many and where the first is)."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if _soundfile_info(path) is not None:
        try:
            wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError(f"{path}: cannot read audio ({exc})") from exc
        wave = to_mono(wave) if wave.shape[1] > 1 else wave[:, 0]
    else:
        wave, sr = _read_with_ffmpeg(path)
    if wave.size == 0:
        raise AudioError(f"{path}: zero-length audio")
    finite = np.isfinite(wave)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise AudioError(f"{path}: {bad.size} of {wave.size} samples are not finite (NaN or inf; the first at "
                         f"{bad[0] / sr:.3f} s); repair or trim the file first")
    return np.ascontiguousarray(wave), int(sr)
