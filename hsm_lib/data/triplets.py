"""(mixture, target, instruction) triplets and their storage.

Two clips whose unified tags do not overlap are mixed at a random SNR. Each triplet carries
both instructions (the paper's bidirectional instructions): extraction of the target's
caption and removal of the other's caption; both have the same target audio. Training
picks one at random.

Storage, per set, one of two (``DataConfig.triplet_storage``):
- *premixed*: ``<name>.npy`` int16 [N, 2, L] holding (target, other), and ``<name>.json`` with
  one record per row. The mixture is ``target + other``: exact, because both are stored as
  integers and their sum is the mixture's integer samples (we scale so the sum never clips).
- *records*: only the mix table and the records, beside the clip array they draw from
  (:mod:`hsm_lib.data.streaming`); pairs are mixed when read, with the same arithmetic
  (:mod:`hsm_lib.data.mixing`), so both storages give the same samples.
``TripletSet`` reads either back.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hsm_lib.audio import snr_db
from hsm_lib.data.captions import extraction_instruction, removal_instruction
from hsm_lib.data.mixing import INT16_SCALE, apply_gains, mix_gains
from hsm_lib.data.records import Clip, read_json, write_json_atomic
from hsm_lib.data.streaming import MIX_TABLE_DTYPE, JsonlRecords, MixedPairs, write_jsonl
from hsm_lib.data.taxonomy import tags_overlap
from hsm_lib.io import atomic_path

STORAGES = ("premixed", "records")

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
                      clip_audio: np.ndarray, rng: random.Random, extra: dict[str, Any] | None = None,
                      storage: str = "premixed", clips_file: Path | None = None) -> int:
    """Mix ``specs`` and write the set ``name`` into ``out_dir``; returns the number of triplets.

    ``clip_audio`` is the clips' audio, int16 or float32 [n_clips, L]. ``storage`` "premixed"
    writes ``<name>.npy`` (int16 [N, 2, L]) and ``<name>.json`` atomically; "records" writes the
    mix table and the records only, and needs ``clips_file``, the stored int16 array that
    ``clip_audio`` is, which the set then reads from. Records are produced one at a time, so
    neither storage holds the set in memory.
    """
    if storage not in STORAGES:
        raise ValueError(f"triplet storage must be one of {STORAGES}, got {storage!r}")
    length = clip_audio.shape[1]
    scale = INT16_SCALE if clip_audio.dtype == np.int16 else 1.0

    def mixed():
        for i, spec in enumerate(specs):
            target = clip_audio[spec.target].astype(np.float32) / scale
            other = clip_audio[spec.other].astype(np.float32) / scale
            gains = mix_gains(target, other, spec.snr_db)
            pair = apply_gains(target, other, *gains)
            yield i, spec, gains, pair, triplet_record(i, name, spec, clips, pair, rng)

    meta = {"name": name, **(extra or {})}
    if storage == "records":
        if clips_file is None or clip_audio.dtype != np.int16:
            raise ValueError("records storage reads pairs from a stored int16 clip array: pass clips_file")
        table = np.zeros(len(specs), MIX_TABLE_DTYPE)

        def records():
            for i, spec, gains, _, record in mixed():
                table[i] = (spec.target, spec.other, *gains)
                yield record

        write_jsonl(out_dir / f"{name}.jsonl", records())
        np.save(out_dir / f"{name}.mix.npy", table)
        rel = Path(os.path.relpath(clips_file, out_dir))
        write_json_atomic(out_dir / f"{name}.json", {**meta, "storage": "records", "clips": rel.as_posix(), "count": len(specs)})
        return len(specs)
    records = []
    with atomic_path(out_dir / f"{name}.npy") as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int16, shape=(len(specs), 2, length))
        for i, _, _, pair, record in mixed():
            arr[i] = pair
            records.append(record)
        arr.flush()
        del arr
    write_json_atomic(out_dir / f"{name}.json", {**meta, "triplets": records})
    return len(records)


class TripletSet:
    """A written triplet set, read back lazily (memory-mapped), whichever its storage.

    ``set[i]`` -> dict with ``mixture``, ``target``, ``other`` ([L] float32) and the record.
    ``set.audio``: int16 [N, 2, L], a memory map (premixed) or :class:`MixedPairs` (records);
    ``set.records``: a list (premixed) or :class:`JsonlRecords` (records), indexed the same way.
    """

    def __init__(self, directory: str | Path, name: str):
        directory = Path(directory)
        meta = read_json(directory / f"{name}.json")
        self.name = name
        self.meta = {k: v for k, v in meta.items() if k != "triplets"}
        self.storage = meta.get("storage", "premixed")
        self.records: Sequence[dict[str, Any]]
        if self.storage == "records":
            self.records = JsonlRecords(directory / f"{name}.jsonl")
            clip_array = np.load(directory / meta["clips"], mmap_mode="r")
            self.audio = MixedPairs(clip_array, np.load(directory / f"{name}.mix.npy", mmap_mode="r"))
        else:
            self.records = meta["triplets"]
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
