"""MUSIC-synth: the 11 MUSIC instrument classes rendered from a General MIDI soundfont.

Used only as a zero-shot test set. Each clip is a random monophonic melody (a walk on a
major or minor scale inside the instrument's playable range, notes of 0.2-1 s, a few rests,
random velocities) rendered by FluidSynth offline, one fresh synthesiser per clip so that no
state (voices in release, reverb tails) leaks from one clip into the next. Reverb and
chorus are switched off so the sources are dry, like the other sources of the corpus.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.data.records import Origin, Recording
from hsm_lib.data.sources.synth import fill_audio_metadata, peak_normalise, stable_rng

SOURCE = "soundfont"
FAMILY = "music_synth"
LICENSE = "MIT (FluidR3_GM soundfont)"
ORIGIN = Origin(SOURCE, FAMILY, LICENSE)
DEFAULT_SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
DEBIAN_PACKAGES = ("fluid-soundfont-gm", "libfluidsynth3")

# FluidSynth's output gain: high enough to use the int16 range, low enough not to clip one voice.
SYNTH_GAIN = 0.6


@dataclass(frozen=True)
class Instrument:
    """A MUSIC class, its General MIDI program (0-based) and a playable MIDI note range."""

    name: str
    program: int
    low: int
    high: int
    stand_in: str | None = None

    @property
    def key(self) -> str:
        return self.name.replace(" ", "_")


MUSIC_INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("accordion", 21, 53, 84),
    Instrument("acoustic guitar", 24, 40, 76),
    Instrument("cello", 42, 36, 72),
    Instrument("clarinet", 71, 50, 84),
    Instrument("flute", 73, 60, 93),
    Instrument("saxophone", 65, 49, 80),  # GM 65 is the alto sax
    Instrument("trumpet", 56, 54, 82),
    Instrument("tuba", 58, 28, 58),
    Instrument("violin", 40, 55, 93),
    Instrument("xylophone", 13, 65, 96),
    # General MIDI has no erhu; the bowed "Fiddle" (program 110) is the nearest timbre.
    Instrument("erhu", 110, 62, 88, stand_in="fiddle (General MIDI program 110); General MIDI has no erhu"),
)

MUSIC_LABELS = tuple(inst.name for inst in MUSIC_INSTRUMENTS)

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
NOTE_SECONDS = (0.2, 1.0)
REST_PROBABILITY = 0.12
REST_SECONDS = (0.1, 0.5)
VELOCITY = (60, 120)
# Melodic steps in scale degrees: mostly small, as in real melodies.
STEPS = (-4, -3, -2, -2, -1, -1, -1, 0, 1, 1, 1, 2, 2, 3, 4)


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    length: float  # seconds the key is held
    key: int  # MIDI note number
    velocity: int


def _fluidsynth() -> types.ModuleType:
    """Import pyfluidsynth, turning a missing C library into an actionable error."""
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:  # pyfluidsynth raises ImportError without libfluidsynth
        raise RuntimeError(f"FluidSynth is not usable ({exc}); install the Debian packages {' and '.join(DEBIAN_PACKAGES)} and the Python package pyfluidsynth") from exc
    return fluidsynth


def _check_sf2(sf2: str) -> None:
    if not Path(sf2).is_file():
        raise RuntimeError(f"soundfont {sf2} not found; install the Debian packages {' and '.join(DEBIAN_PACKAGES)}")


def random_melody(inst: Instrument, seconds: float, rng: np.random.Generator) -> list[Note]:
    """A monophonic melody that fills ``seconds``: a scale walk inside the instrument's range."""
    root = int(rng.integers(12))
    scale = SCALES[str(rng.choice(list(SCALES)))]
    keys = [k for k in range(inst.low, inst.high + 1) if (k - root) % 12 in scale]
    idx = int(rng.integers(len(keys) // 4, 3 * len(keys) // 4 + 1))  # start mid-range
    notes: list[Note] = []
    t = float(rng.uniform(0.0, 0.1))
    while t < seconds:
        if notes and rng.random() < REST_PROBABILITY:
            t += float(rng.uniform(*REST_SECONDS))
            continue
        idx = int(np.clip(idx + rng.choice(STEPS), 0, len(keys) - 1))
        length = float(rng.uniform(*NOTE_SECONDS))
        articulation = float(rng.uniform(0.8, 1.0))  # legato to slightly detached
        notes.append(Note(t, length * articulation, keys[idx], int(rng.integers(VELOCITY[0], VELOCITY[1] + 1))))
        t += length
    return notes


def render_notes(program: int, notes: list[Note], seconds: float, sample_rate: int = SAMPLE_RATE, sf2: str = DEFAULT_SF2) -> np.ndarray:
    """Render ``notes`` with one GM program into exactly ``seconds`` of float32 mono audio."""
    _check_sf2(sf2)
    fluidsynth = _fluidsynth()
    total = int(round(seconds * sample_rate))
    # Events in sample time; at equal times a note-off goes first so a repeated key re-strikes.
    events = sorted(
        [(int(round(n.start * sample_rate)), 1, n.key, n.velocity) for n in notes]
        + [(int(round((n.start + n.length) * sample_rate)), 0, n.key, 0) for n in notes]
    )
    synth = fluidsynth.Synth(
        gain=SYNTH_GAIN,
        samplerate=float(sample_rate),
        **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.dynamic-sample-loading": 1},
    )
    try:
        sfid = synth.sfload(sf2)
        if sfid < 0:
            raise RuntimeError(f"FluidSynth could not load {sf2}")
        synth.program_select(0, sfid, 0, program)
        chunks, pos = [], 0
        for at, on, key, velocity in events:
            at = min(at, total)
            if at > pos:
                chunks.append(synth.get_samples(at - pos))
                pos = at
            if on:
                synth.noteon(0, key, velocity)
            else:
                synth.noteoff(0, key)
        if total > pos:
            chunks.append(synth.get_samples(total - pos))
    finally:
        synth.delete()
    stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2) / 32768.0
    mono = stereo.mean(axis=1)
    fade = min(int(0.02 * sample_rate), len(mono))  # the clip cuts the last note: avoid a click
    mono[len(mono) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return mono


def render_music_clip(name: str, index: int, seed: int, seconds: float, sample_rate: int = SAMPLE_RATE, sf2: str = DEFAULT_SF2) -> tuple[np.ndarray, int]:
    """Clip ``index`` of instrument ``name``: ``(float32 mono peak 0.9, sample_rate)``."""
    inst = next(i for i in MUSIC_INSTRUMENTS if i.name == name)
    notes = random_melody(inst, seconds, stable_rng("soundfont", inst.key, index, seed))
    return peak_normalise(render_notes(inst.program, notes, seconds, sample_rate, sf2)), sample_rate


def render_music_clips(
    n_per_class: int,
    seconds: float,
    seed: int,
    sample_rate: int = SAMPLE_RATE,
    sf2: str = DEFAULT_SF2,
    measure: bool = True,
) -> list[Recording]:
    """``n_per_class`` clips of ``seconds`` for each of the 11 MUSIC classes.

    Clips are rendered lazily by the loaders; with ``measure`` each is rendered once here to
    fill ``content_hash`` (in one thread: FluidSynth's one-time global initialisation is not
    safe to race, and threads gave no speed-up here). Raises ``RuntimeError`` when the soundfont or FluidSynth is missing.
    """
    _check_sf2(sf2)
    _fluidsynth()
    records = []
    for inst in MUSIC_INSTRUMENTS:
        extra: dict = {"gm_program": inst.program, "class": inst.name}
        if inst.stand_in:
            extra["stand_in"] = inst.stand_in
        for i in range(n_per_class):
            records.append(ORIGIN.recording(
                f"soundfont:{inst.key}:{i:04d}-{seed}", f"{Path(sf2).name}:program={inst.program}", inst.name,
                functools.partial(render_music_clip, inst.name, i, seed, seconds, sample_rate, sf2),
                duration=int(round(seconds * sample_rate)) / sample_rate, extra=dict(extra)))
    if measure:
        fill_audio_metadata(records)
    return records
