"""Compose fixed-length clips from short recordings, with captions that say what happens.

A clip holds one or two events from recordings of one family and one split. Each event is
a recording placed one or more times (onsets), with a gain and a small pitch/tempo change
(resampling by a factor near 1). Two events either follow each other ("then") or overlap
("while"). A quiet coloured-noise floor is added, as every real recording has one (it also
keeps LSD finite: see DATA.md on digital silence).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from hsm_lib.audio import SAMPLE_RATE, resample
from hsm_lib.data.bank import fade
from hsm_lib.data.captions import EventText, caption_for, label_caption
from hsm_lib.data.records import Clip, Event, Recording, unique

N_CAPTIONS = 3  # alternative captions per clip (Clotho has five; the first is the reference)


@dataclass(frozen=True)
class ComposeConfig:
    clip_seconds: float
    rate_range: tuple[float, float] = (0.94, 1.06)  # pitch/tempo variation by resampling
    two_event_prob: float = 0.55
    overlap_prob: float = 0.3
    max_repeats: int = 4
    noise_floor_db: tuple[float, float] = (-70.0, -55.0)  # RMS of the background, dBFS
    peak: float = 0.9


def noise_floor(n: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish noise (white noise through a one-pole low-pass mixed with white) at an RMS."""
    white = rng.standard_normal(n).astype(np.float32)
    from scipy.signal import lfilter

    pinkish = lfilter([0.05], [1.0, -0.95], white).astype(np.float32) + 0.3 * white
    pinkish /= max(float(np.sqrt(np.mean(pinkish**2))), 1e-9)
    return (pinkish * np.float32(10 ** (level_db / 20))).astype(np.float32)


def _vary(audio: np.ndarray, rate: float) -> np.ndarray:
    """Play ``audio`` ``rate`` times faster (higher and shorter) by resampling."""
    if abs(rate - 1.0) < 1e-3:
        return audio
    # Resampling from sr*rate to sr shortens by 1/rate: pitch and tempo both scale by rate.
    return resample(audio, int(round(SAMPLE_RATE * rate / 10)) * 10, SAMPLE_RATE)


def _event_words(rec: Recording) -> str:
    return str(rec.extra.get("words") or rec.extra.get("sentence") or "")


def _place(rec: Recording, audio: np.ndarray, window: tuple[int, int], cfg: ComposeConfig,
           rng: random.Random, out: np.ndarray, gain_db: float) -> Event:
    """Place one recording in [window) of ``out`` 1..max_repeats times; return the Event."""
    lo, hi = window
    span = hi - lo
    # Rates on a 1% grid: as varied as the ear needs, and resampling kernels can be reused.
    rate = 1.0 if rec.family in ("speech",) else round(rng.uniform(*cfg.rate_range), 2)
    sound = _vary(audio, rate)
    if sound.size > span:  # long recordings: a random excerpt that fits the window
        start = rng.randrange(0, sound.size - span + 1)
        sound = fade(sound[start:start + span])
    max_reps = 1 if rec.family == "speech" else max(1, min(cfg.max_repeats, span // int(sound.size * 1.25 + 1)))
    reps = rng.randint(1, max_reps)
    slot = span // reps
    gain = np.float32(10 ** (gain_db / 20))
    onsets = []
    for k in range(reps):
        start = lo + k * slot + rng.randrange(0, max(1, slot - sound.size + 1))
        end = min(start + sound.size, out.size)
        out[start:end] += gain * sound[: end - start]
        onsets.append(round(start / SAMPLE_RATE, 3))
    attributes = tuple(rec.extra.get("attributes", ()))
    return Event(rec.id, rec.label, tuple(rec.tags), tuple(onsets), round(gain_db, 2), round(rate, 4), attributes)


def _pick_second(first: Recording, pool: list[Recording], rng: random.Random) -> Recording | None:
    """A recording of another tag (so the caption names two distinct things)."""
    others = [r for r in pool if r.tags and first.tags and r.tags[0] != first.tags[0]]
    return rng.choice(others) if others else None


def compose_clip(clip_id: str, split: str, family: str, pool: list[Recording], bank: dict[str, np.ndarray],
                 cfg: ComposeConfig, rng: random.Random) -> tuple[np.ndarray, Clip]:
    """One clip [L] float32 and its record, from recordings in ``pool`` (one family, one split)."""
    length = int(round(cfg.clip_seconds * SAMPLE_RATE))
    nprng = np.random.default_rng(rng.getrandbits(63))
    out = np.zeros(length, dtype=np.float32)
    first = rng.choice(pool)
    second = _pick_second(first, pool, rng) if rng.random() < cfg.two_event_prob else None
    if family == "speech" and second is not None:
        second = None  # one utterance per speech clip: two voices would share the speech tag anyway
    chosen = [first] + ([second] if second else [])
    overlapping = len(chosen) == 2 and rng.random() < cfg.overlap_prob
    if len(chosen) == 1 or overlapping:
        windows = [(0, length)] * len(chosen)
    else:
        cut = int(length * rng.uniform(0.4, 0.6))
        windows = [(0, cut), (cut, length)]
    gains = [rng.uniform(-10.0, 0.0) for _ in chosen]
    events = [_place(r, bank[r.id], w, cfg, rng, out, g) for r, w, g in zip(chosen, windows, gains)]
    if len(events) == 2 and abs(gains[0] - gains[1]) >= 6.0:  # loud/quiet only when it is audible
        loud = int(gains[1] > gains[0])
        events[loud].attributes = events[loud].attributes + ("loud",)
        events[1 - loud].attributes = events[1 - loud].attributes + ("quiet",)
    peak = float(np.abs(out).max())
    out *= np.float32(cfg.peak / max(peak, 1e-9))
    out += noise_floor(length, rng.uniform(*cfg.noise_floor_db), nprng)
    events.sort(key=lambda e: e.onsets[0])
    by_id = {r.id: r for r in chosen}
    texts = [EventText(e.tags[0], e.label, len(e.onsets), e.attributes, _event_words(by_id[e.recording_id])) for e in events]
    captions = unique([caption_for(texts, overlapping, rng) for _ in range(N_CAPTIONS * 2)])[:N_CAPTIONS]
    clip = Clip(
        id=clip_id, split=split, family=family,
        sources=unique([r.source for r in chosen]),
        recordings=tuple(r.id for r in chosen),
        original_files=tuple(r.original_file for r in chosen),
        licenses=unique([r.license for r in chosen]),
        labels=tuple(label_caption([r.label for r in chosen]).split(", ")),
        tags=unique([t for e in events for t in e.tags]),
        captions=tuple(captions),
        duration=cfg.clip_seconds,
        events=tuple(e.to_json() for e in events),
    )
    return np.clip(out, -1.0, 1.0), clip


def clip_from_recording(clip_id: str, split: str, rec: Recording, audio: np.ndarray, clip_seconds: float,
                        rng: random.Random) -> tuple[np.ndarray, Clip]:
    """An imported corpus clip used as-is: a random crop (or zero-pad) to the clip length."""
    length = int(round(clip_seconds * SAMPLE_RATE))
    if audio.size > length:
        start = rng.randrange(0, audio.size - length + 1)
        audio = audio[start:start + length]
    out = np.zeros(length, dtype=np.float32)
    out[: audio.size] = audio
    captions = tuple(rec.extra.get("captions") or (f"the sound of {rec.label}",))
    clip = Clip(id=clip_id, split=split, family=rec.family, sources=(rec.source,), recordings=(rec.id,),
                original_files=(rec.original_file,), licenses=(rec.license,),
                labels=tuple(lab for lab in rec.label.split(", ") if lab),
                tags=tuple(rec.tags), captions=captions, duration=clip_seconds)
    return out, clip


def samples_per_clip(clip_seconds: float) -> int:
    return int(math.floor(clip_seconds * SAMPLE_RATE + 0.5))
