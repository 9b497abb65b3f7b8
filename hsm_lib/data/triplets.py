"""(mixture, target, instruction) triplets and their storage.

Two clips whose unified tags do not overlap are mixed at a random SNR. Each triplet carries
both instructions (the paper's bidirectional instructions): extraction of the target's
caption and removal of the other's caption; both have the same target audio. Training
picks one at random.

Storage, per set: ``<name>.npy`` int16 [N, 2, L] holding (target, other), and
``<name>.json`` with one record per row. The mixture is ``target + other``: exact, because
both are stored as integers and their sum is the mixture's integer samples (we scale so the
sum never clips). ``TripletSet`` reads a set back as float32.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hsm_lib.audio import snr_db
from hsm_lib.data.captions import extraction_instruction, removal_instruction
from hsm_lib.data.records import Clip, read_json, write_json_atomic
from hsm_lib.data.taxonomy import tags_overlap
from hsm_lib.io import atomic_path

INT16_SCALE = 32768.0
MIX_PEAK = 0.9  # the mixture's peak after the common gain; keeps int16 far from clipping
LABEL_INSTRUCTION_PROB = 0.2  # how often an instruction names the raw labels, not a caption


@dataclass
class TripletSpec:
    """What to mix: two clip rows of one clip array and an SNR."""

    target: int
    other: int
    snr_db: float


def pick_pairs(clips: Sequence[Clip], n: int, snr_range: tuple[float, float], rng: random.Random,
               target_pool: Sequence[int] | None = None, other_pool: Sequence[int] | None = None,
               max_tries: int = 200) -> list[TripletSpec]:
    """``n`` random (target, other) pairs with disjoint tags and SNR ~ U(snr_range).

    ``target_pool``/``other_pool`` restrict which clip rows may play each role (e.g. the
    mixed test set cycles target families). Raises if no valid partner exists.
    """
    target_pool = list(target_pool if target_pool is not None else range(len(clips)))
    other_pool = list(other_pool if other_pool is not None else range(len(clips)))
    specs = []
    for i in range(n):
        for _ in range(max_tries):
            t = target_pool[i % len(target_pool)] if len(target_pool) <= n else rng.choice(target_pool)
            o = rng.choice(other_pool)
            if t != o and not tags_overlap(clips[t].tags, clips[o].tags):
                break
        else:
            raise RuntimeError(f"no clip with disjoint tags found for {clips[t].id} after {max_tries} tries")
        specs.append(TripletSpec(t, o, rng.uniform(*snr_range)))
    return specs


def _quantise(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * INT16_SCALE), -32768, 32767).astype(np.int16)


def mix_pair(target: np.ndarray, other: np.ndarray, snr: float) -> np.ndarray:
    """[2, L] int16 (target, other) at ``snr`` dB, scaled so no signal peaks above MIX_PEAK."""
    pt, po = float(np.mean(target.astype(np.float64) ** 2)), float(np.mean(other.astype(np.float64) ** 2))
    other = other * np.float32(np.sqrt(pt / (po * 10 ** (snr / 10))))
    # The common gain bounds the mixture *and* each source: where the two cancel, a source
    # can peak above the mixture, and int16 would clip it (then target + other != mixture).
    peak = max(float(np.abs(target + other).max()), float(np.abs(target).max()), float(np.abs(other).max()))
    gain = MIX_PEAK / max(peak, 1e-9)
    return np.stack([_quantise(target * gain), _quantise(other * gain)])


def _description(clip: Clip, rng: random.Random) -> str:
    if any(clip.labels) and rng.random() < LABEL_INSTRUCTION_PROB:
        return ", ".join(clip.labels)
    return rng.choice(clip.captions)


def triplet_record(index: int, set_name: str, spec: TripletSpec, clips: Sequence[Clip], pair: np.ndarray,
                   rng: random.Random) -> dict[str, Any]:
    t, o = clips[spec.target], clips[spec.other]
    cap_t, cap_o = _description(t, rng), _description(o, rng)
    return {
        "id": f"{set_name}-{index:06d}",
        "index": index,
        "target_clip": t.id,
        "other_clip": o.id,
        "target_family": t.family,
        "other_family": o.family,
        "target_tags": list(t.tags),
        "other_tags": list(o.tags),
        "target_caption": cap_t,
        "other_caption": cap_o,
        "target_recordings": list(t.recordings),
        "other_recordings": list(o.recordings),
        "snr_db": round(spec.snr_db, 4),
        "snr_db_measured": round(snr_db(pair[0].astype(np.float64), pair[1].astype(np.float64)), 4),
        "instructions": {
            "extraction": {"task": "extraction", "caption": cap_t, "text": extraction_instruction(cap_t, rng)},
            "removal": {"task": "removal", "caption": cap_o, "text": removal_instruction(cap_o, rng)},
        },
    }


def write_triplet_set(out_dir: Path, name: str, specs: list[TripletSpec], clips: Sequence[Clip],
                      clip_audio: np.ndarray, rng: random.Random, extra: dict[str, Any] | None = None) -> list[dict]:
    """Mix ``specs`` and write ``<name>.npy`` (int16 [N, 2, L]) and ``<name>.json`` atomically.

    ``clip_audio`` is the clips' audio, int16 or float32 [n_clips, L].
    """
    length = clip_audio.shape[1]
    scale = INT16_SCALE if clip_audio.dtype == np.int16 else 1.0
    records = []
    with atomic_path(out_dir / f"{name}.npy") as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int16, shape=(len(specs), 2, length))
        for i, spec in enumerate(specs):
            pair = mix_pair(clip_audio[spec.target].astype(np.float32) / scale,
                            clip_audio[spec.other].astype(np.float32) / scale, spec.snr_db)
            arr[i] = pair
            records.append(triplet_record(i, name, spec, clips, pair, rng))
        arr.flush()
        del arr
    write_json_atomic(out_dir / f"{name}.json", {"name": name, **(extra or {}), "triplets": records})
    return records


class TripletSet:
    """A written triplet set, read back lazily (memory-mapped).

    ``set[i]`` -> dict with ``mixture``, ``target``, ``other`` ([L] float32) and the record.
    """

    def __init__(self, directory: str | Path, name: str):
        directory = Path(directory)
        meta = read_json(directory / f"{name}.json")
        self.name = name
        self.meta = {k: v for k, v in meta.items() if k != "triplets"}
        self.records: list[dict[str, Any]] = meta["triplets"]
        self.audio = np.load(directory / f"{name}.npy", mmap_mode="r")
        if self.audio.shape[0] != len(self.records):
            raise ValueError(f"{directory / name}: {self.audio.shape[0]} audio rows but {len(self.records)} records")

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pair = np.asarray(self.audio[i], dtype=np.float32) / np.float32(INT16_SCALE)
        return {"target": pair[0], "other": pair[1], "mixture": pair[0] + pair[1], **self.records[i]}


def sample_instruction(record: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """Training picks one of the two instructions at random (both give the same target)."""
    return record["instructions"][rng.choice(("extraction", "removal"))]
