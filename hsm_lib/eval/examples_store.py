"""Separated examples kept by the evaluation, for the stages that draw or play them.

The ``evaluate`` stage keeps the first few triplets of every test set: the mixture, the target,
each system's output and the per-clip metrics it scored them with. The ``figures`` stage draws
Fig. 7 from them and the ``demo`` stage builds the listening page, so restyling a figure or the
page reruns neither the separation nor the scoring.

On disk, one pair per test set in a folder: ``<set>.npz`` (float32 waveforms [k, L] at 16 kHz:
``mixture``, ``target`` and one array per system, keyed by :func:`array_key`) and ``<set>.json``
(the set, the systems in order, and per example its instructions, captions and metrics).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.io import atomic_path, atomic_write_text


def examples_dir(profile: str) -> Path:
    """Where the ``evaluate`` stage keeps its examples: data/<profile>/examples."""
    return paths.profile_dir(profile) / "examples"


def array_key(system: str) -> str:
    """An npz-safe key for a system's name ("Ours (extraction)" -> "ours_extraction")."""
    return re.sub(r"[^a-z0-9]+", "_", system.lower()).strip("_")


@dataclass
class ExampleSet:
    """The kept examples of one test set."""

    name: str
    systems: list[str]                   # the systems kept, in display order
    mixture: np.ndarray                  # [k, L] float32, 16 kHz
    target: np.ndarray                   # [k, L]
    outputs: dict[str, np.ndarray]       # system -> [k, L]
    examples: list[dict[str, Any]]       # per example: index, instructions, captions, metrics
    sample_rate: int = SAMPLE_RATE

    def __len__(self) -> int:
        return len(self.examples)


def save_example_set(folder: Path, name: str, items: list[dict], records: list[dict], outputs: dict[str, np.ndarray],
                     per_clip: dict[str, dict[str, np.ndarray]], systems: tuple[str, ...], k: int,
                     mixture_row: str | None = None) -> None:
    """Keep the first ``k`` triplets of test set ``name``: ``items`` (their "mixture" and
    "target" [L]), ``records`` (their corpus records), ``outputs`` (system -> [n, L]) and
    ``per_clip`` (system -> metric -> [n]); only ``systems`` are kept, and the metrics of
    ``per_clip[mixture_row]`` (the unprocessed mixture, the floor) as "mixture". Both files atomically."""
    k = min(k, len(items))
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"mixture": np.stack([it["mixture"] for it in items[:k]]).astype(np.float32),
              "target": np.stack([it["target"] for it in items[:k]]).astype(np.float32),
              **{array_key(s): np.asarray(outputs[s][:k], dtype=np.float32) for s in systems}}
    examples = [{"index": i, "id": records[i].get("id", str(i)), "instructions": records[i]["instructions"],
                 "target_caption": records[i].get("target_caption", ""), "other_caption": records[i].get("other_caption", ""),
                 "metrics": {label: {m: float(v[i]) for m, v in per_clip[s].items()}
                             for label, s in [*((sy, sy) for sy in systems), ("mixture", mixture_row)] if s in per_clip}}
                for i in range(k)]
    with atomic_path(folder / f"{name}.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    atomic_write_text(folder / f"{name}.json", json.dumps(
        {"set": name, "sample_rate": SAMPLE_RATE, "systems": list(systems), "examples": examples}, indent=1) + "\n")


def load_example_sets(folder: Path) -> list[ExampleSet]:
    """Every test set kept in ``folder``, in name order (the mixed set first where present)."""
    sets = []
    for meta_path in sorted(folder.glob("*.json"), key=lambda p: (p.stem != "mixed", p.stem)):
        meta = json.loads(meta_path.read_text())
        with np.load(meta_path.with_suffix(".npz")) as data:
            arrays = {k: data[k] for k in data.files}
        sets.append(ExampleSet(meta["set"], meta["systems"], arrays["mixture"], arrays["target"],
                               {s: arrays[array_key(s)] for s in meta["systems"]}, meta["examples"], meta["sample_rate"]))
    return sets
