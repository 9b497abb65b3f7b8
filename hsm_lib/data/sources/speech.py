"""Synthetic male and female speech spoken by espeak-ng.

Sentences come from templates filled with everyday word lists and numbers (thousands of
distinct sentences). Each recording gets a voice (an English base voice with a male or
female variant), a speed and a pitch, all drawn from ``(index, seed)``. The list is cheap
to build; the loader runs ``espeak-ng --stdout`` and resamples, which is deterministic
because espeak-ng is (same text and options give the same bytes).
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import string
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
from scipy import signal

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.data.records import Origin, Recording
from hsm_lib.data.sources.synth import fill_audio_metadata, peak_normalise, stable_rng

log = logging.getLogger(__name__)

SOURCE = "espeak"
FAMILY = "speech"
LICENSE = "GPL-3+ (espeak-ng output)"
ORIGIN = Origin(SOURCE, FAMILY, LICENSE)
ESPEAK = "espeak-ng"
DEBIAN_PACKAGE = "espeak-ng"

# espeak-ng voice variants (files under espeak-ng-data/voices/!v) by the gender they declare.
VARIANTS = {
    "male": ("m1", "m2", "m3", "m4", "m5", "m6", "m7"),
    "female": ("f1", "f2", "f3", "f4", "f5", "Annie", "linda", "steph", "belinda"),
}
BASE_VOICES = ("en", "en-us", "en-gb-x-rp")
SPEED_RANGE = (130, 190)  # words per minute
PITCH_RANGE = (30, 70)  # espeak's 0-99 pitch adjustment

SPEECH_LABELS = ("male speech", "female speech")

# --- sentences ------------------------------------------------------------------------------

WORDS: dict[str, tuple[str, ...]] = {
    "thing": ("umbrella", "kettle", "laptop", "bicycle", "parcel", "ladder", "blanket", "camera", "suitcase", "lamp", "backpack", "key", "bottle", "notebook", "jacket"),
    "place": ("station", "kitchen", "garden", "library", "office", "market", "bakery", "park", "garage", "school", "hospital", "beach", "museum", "bridge", "corner shop"),
    "adjective": ("red", "heavy", "old", "new", "broken", "small", "blue", "wet", "shiny", "empty", "clean", "noisy"),
    "person": ("my sister", "the teacher", "our neighbour", "the doctor", "my brother", "the driver", "your friend", "the manager", "grandma", "the baker"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "tomorrow", "next week", "tonight"),
    "plural": ("apples", "chairs", "tickets", "eggs", "books", "cups", "boxes", "candles", "stamps", "buses"),
    "food": ("soup", "bread", "pasta", "coffee", "tea", "rice", "cake", "salad", "cheese", "oranges"),
    "verb": ("fix", "paint", "clean", "move", "check", "wrap", "open", "carry", "find", "return"),
}

TEMPLATES: tuple[str, ...] = (
    "Please bring the {adjective} {thing} to the {place}.",
    "I left my {thing} at the {place} on {day}.",
    "{person} will meet us at the {place} at {hour} o'clock.",
    "There are {number} {plural} on the table.",
    "Can you {verb} the {thing} before {day}?",
    "The train to the {place} leaves at {hour} {minutes}.",
    "We need {number} more {plural} for the party.",
    "{person} made fresh {food} for lunch.",
    "Turn left after the {place} and walk for {number} minutes.",
    "Did you see the {adjective} {thing} near the {place}?",
    "My room number is {number}, on the {ordinal} floor.",
    "I would like some {food} and a cup of tea, please.",
    "The {place} is closed on {day}.",
    "{person} asked me to {verb} the {thing}.",
    "It costs {number} pounds and {cents} pence.",
    "Call me when you get to the {place}.",
    "The bus was {number} minutes late again.",
    "Don't forget to {verb} the {adjective} {thing}.",
    "We bought {number} {plural} at the {place}.",
    "Is the {food} ready yet?",
)

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
# Numeric slots: how each is drawn. espeak-ng reads digits as words ("42" -> "forty two").
NUMBER_SLOTS = {"number": (2, 100), "hour": (1, 13), "cents": (1, 100)}


def _slot_choices(name: str) -> int:
    """How many values a template slot can take."""
    if name in WORDS:
        return len(WORDS[name])
    if name in NUMBER_SLOTS:
        lo, hi = NUMBER_SLOTS[name]
        return hi - lo
    return {"minutes": 4, "ordinal": len(ORDINALS)}[name]


def _slots(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def sentence_capacity() -> int:
    """Number of distinct sentences the templates can produce (an upper bound)."""
    return sum(math.prod(_slot_choices(s) for s in _slots(t)) for t in TEMPLATES)


def _fill(template: str, rng: np.random.Generator) -> str:
    values: dict[str, str] = {}
    for name in _slots(template):
        if name in WORDS:
            values[name] = str(rng.choice(WORDS[name]))
        elif name in NUMBER_SLOTS:
            values[name] = str(int(rng.integers(*NUMBER_SLOTS[name])))
        elif name == "minutes":
            values[name] = str(rng.choice(["fifteen", "thirty", "forty five", "o'clock"]))
        elif name == "ordinal":
            values[name] = str(rng.choice(ORDINALS))
    text = template.format(**values)
    return text[0].upper() + text[1:]


def everyday_sentences(n: int, seed: int) -> list[str]:
    """``n`` distinct short everyday sentences (prefix-stable: the first k do not depend on n).

    Beyond :func:`sentence_capacity` distinct sentences are impossible and a ``ValueError``
    is raised.
    """
    if n > sentence_capacity():
        raise ValueError(f"only {sentence_capacity()} distinct sentences exist, asked for {n}")
    rng = stable_rng("espeak-sentences", seed)
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(_fill(TEMPLATES[int(rng.integers(len(TEMPLATES)))], rng), None)
    return list(seen)


# --- rendering ------------------------------------------------------------------------------


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode espeak-ng's 16-bit PCM WAV.

    With ``--stdout`` espeak cannot seek back, so the RIFF and data sizes are placeholders;
    the data chunk is therefore taken to run to the end of the stream.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError(f"{ESPEAK} did not return a WAV stream")
    pos, rate, channels = 12, 0, 1
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
            if fmt != 1 or bits != 16:
                raise RuntimeError(f"unexpected WAV format {fmt}/{bits} bit from {ESPEAK}")
        elif chunk == b"data":
            body = data[pos + 8 :]
            pcm = np.frombuffer(body[: len(body) // (2 * channels) * 2 * channels], dtype="<i2")
            return pcm.reshape(-1, channels).mean(axis=1) / 32768.0, rate
        pos += 8 + size + (size & 1)
    raise RuntimeError(f"no audio data in {ESPEAK} output")


def trim_silence(x: np.ndarray, sr: int, threshold_db: float = -40.0, pad: float = 0.05) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the loudest frame."""
    hop = max(1, int(0.01 * sr))
    frames = len(x) // hop
    if frames == 0:
        return x
    rms = np.sqrt(np.mean(x[: frames * hop].reshape(frames, hop) ** 2, axis=1))
    active = np.flatnonzero(rms > rms.max() * 10 ** (threshold_db / 20))
    if active.size == 0:
        return x[:0]
    start = max(0, active[0] * hop - int(pad * sr))
    stop = min(len(x), (active[-1] + 1) * hop + int(pad * sr))
    return x[start:stop]


def render_espeak(sentence: str, voice: str, speed: int, pitch: int, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Speak ``sentence``: ``(float32 mono, trimmed, peak 0.9, sample_rate)``."""
    cmd = [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", sentence]
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    audio, rate = _parse_wav(out)
    if rate != sample_rate:
        g = math.gcd(rate, sample_rate)
        audio = signal.resample_poly(audio, sample_rate // g, rate // g)
    return peak_normalise(trim_silence(audio, sample_rate)), sample_rate


def render_many(recordings: Sequence[Recording], workers: int = 2) -> list[np.ndarray]:
    """Load every recording with a thread pool; returns the sample arrays in order.

    Threads suffice because the work is in the espeak-ng subprocess (and in scipy), which
    run outside the GIL.
    """

    def audio(rec: Recording) -> np.ndarray:
        assert rec.load is not None, rec.id
        return rec.load()[0]

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(audio, recordings))


def random_voice(rng: np.random.Generator) -> tuple[str, str, int, int]:
    """Draw ``(gender, voice, speed, pitch)``."""
    gender = str(rng.choice(list(VARIANTS)))
    voice = f"{rng.choice(BASE_VOICES)}+{rng.choice(VARIANTS[gender])}"
    return gender, voice, int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1)), int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))


def espeak_recordings(n: int, seed: int, sample_rate: int = SAMPLE_RATE, measure: bool = True, workers: int = 2) -> list[Recording]:
    """``n`` spoken sentences with varied male and female voices.

    Sentences are distinct up to :func:`sentence_capacity`, then repeat with other voices.
    With ``measure`` every sentence is rendered once (in parallel) to fill ``duration`` and
    ``content_hash``; otherwise both stay empty until the caller measures them. Returns
    ``[]`` with a warning when espeak-ng is not installed.
    """
    if not espeak_available():
        log.warning("%s not found on PATH: install the Debian package '%s' for synthetic speech", ESPEAK, DEBIAN_PACKAGE)
        return []
    sentences = everyday_sentences(min(n, sentence_capacity()), seed)
    records = []
    for i in range(n):
        sentence = sentences[i % len(sentences)]
        gender, voice, speed, pitch = random_voice(stable_rng("espeak-voice", i, seed))
        records.append(ORIGIN.recording(
            f"espeak:{i:04d}-{seed}", f"espeak-ng:{voice}", f"{gender} speech",
            functools.partial(render_espeak, sentence, voice, speed, pitch, sample_rate),
            extra={"sentence": sentence, "voice": voice, "gender": gender, "speed": speed, "pitch": pitch}))
    if measure:
        fill_audio_metadata(records, workers)
    return records
