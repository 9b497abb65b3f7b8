"""Records that describe audio at each level of the corpus.

A :class:`Recording` is one real (or synthesised) sound file as shipped by its source,
before any composition: a drum hit, a dog bark, a spoken prompt. Splits are assigned per
recording, so no recording's audio can appear in two splits.

A :class:`Clip` is a fixed-length clip composed from one or more recordings of the same
split (onsets, repetitions, gain, small pitch/tempo variation) or imported from a corpus.
Triplets and test sets are built from clips.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

# Loads the recording's audio as (mono float32 samples, sample rate).
AudioLoader = Callable[[], "tuple[np.ndarray, int]"]


@dataclass
class Recording:
    """One source sound file.

    ``original_file`` is the path as shipped (for files inside a Qt resource archive,
    ``"<archive.rcc>!/<path inside>"``). ``load`` is not serialised; it returns the audio
    as ``(samples[T] float32 mono, sample_rate)``.
    """

    id: str
    source: str
    original_file: str
    license: str
    label: str
    tags: tuple[str, ...] = ()
    family: str = ""
    duration: float = 0.0
    content_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    load: AudioLoader | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("load")
        d["tags"] = list(self.tags)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Recording":
        d = dict(d)
        d["tags"] = tuple(d.get("tags", ()))
        return cls(**d)



@dataclass(frozen=True)
class Origin:
    """What every recording of one generated source shares: its source, family and license."""

    source: str
    family: str
    license: str

    def recording(self, id: str, original_file: str, label: str, load: AudioLoader, duration: float = 0.0,
                  extra: dict[str, Any] | None = None) -> Recording:
        return Recording(id=id, source=self.source, family=self.family, original_file=original_file,
                         license=self.license, label=label, duration=duration, extra=extra or {}, load=load)


@dataclass
class Event:
    """One recording placed in a clip: where, how often, how loud, how varied."""

    recording_id: str
    label: str
    tags: tuple[str, ...]
    onsets: tuple[float, ...]  # seconds from the clip start, one per repetition
    gain_db: float
    rate: float = 1.0  # resampling factor: >1 is higher and faster
    attributes: tuple[str, ...] = ()  # e.g. ("loud",), ("high", "fast")

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tags"] = list(self.tags)
        d["onsets"] = list(self.onsets)
        d["attributes"] = list(self.attributes)
        return d


@dataclass
class Clip:
    """One fixed-length clip; the unit that triplets mix.

    ``recordings`` lists every recording whose audio is in the clip; ``captions`` are
    alternative descriptions (first is the reference); ``tags`` is the union of the
    events' unified tags and decides what the clip may be mixed with.
    """

    id: str
    split: str
    family: str
    sources: tuple[str, ...]
    recordings: tuple[str, ...]
    original_files: tuple[str, ...]
    licenses: tuple[str, ...]
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    captions: tuple[str, ...]
    duration: float
    events: tuple[dict[str, Any], ...] = ()
    index: int = -1  # row in the split's audio array

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Clip":
        d = dict(d)
        for k in ("sources", "recordings", "original_files", "licenses", "labels", "tags", "captions", "events"):
            d[k] = tuple(d.get(k, ()))
        return cls(**d)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON so that readers never see a half-written file."""
    from hsm_lib.io import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def unique(seq: Sequence[str]) -> tuple[str, ...]:
    """Order-preserving de-duplication."""
    return tuple(dict.fromkeys(seq))
