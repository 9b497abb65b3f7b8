"""Decode recordings once into a bank of 16 kHz mono audio, tag them, and split them.

Splits are assigned per recording (never per derived clip) after identical audio has been
collapsed: two files with the same decoded samples count as one recording, so no audio can
reach two splits through a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

import numpy as np
from tqdm.auto import tqdm

from hsm_lib.audio import SAMPLE_RATE, resample
from hsm_lib.data.records import Recording
from hsm_lib.data.taxonomy import PERCUSSION_TAGS, tag_for_label, tags_from_text

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def trim_silence(audio: np.ndarray, threshold_db: float = -45.0, pad: int = 160) -> np.ndarray:
    """Drop leading/trailing samples quieter than ``threshold_db`` below the peak."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= 0:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) > peak * 10 ** (threshold_db / 20))
    return audio[max(0, loud[0] - pad): loud[-1] + 1 + pad]


def fade(audio: np.ndarray, n: int = 160) -> np.ndarray:
    """Short linear fade in and out (10 ms) so crops never click."""
    n = min(n, audio.size // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        audio = audio.copy()
        audio[:n] *= ramp
        audio[-n:] *= ramp[::-1]
    return audio


def content_hash(audio: np.ndarray) -> str:
    """sha1 of the int16-rounded samples: equal for equal audio, cheap to compare."""
    q = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
    return hashlib.sha1(q.tobytes()).hexdigest()


def decode(rec: Recording, max_seconds: float = 30.0) -> np.ndarray | None:
    """Load, mix down, resample to 16 kHz, trim, peak-normalise to 0.9. None if silent."""
    try:
        audio, sr = rec.load()  # type: ignore[misc]
    except Exception as exc:
        log.warning("skipping %s: cannot decode (%s)", rec.id, exc)
        return None
    audio = resample(np.asarray(audio, dtype=np.float32), sr, SAMPLE_RATE)
    audio = trim_silence(audio[: int(max_seconds * sr * SAMPLE_RATE / max(sr, 1)) or None])
    if audio.size < SAMPLE_RATE // 50:  # < 20 ms of sound
        return None
    return (audio * (0.9 / float(np.abs(audio).max()))).astype(np.float32)


def decode_all(recs: list[Recording], workers: int = 2, progress: bool = True) -> dict[str, np.ndarray]:
    """Decode every recording in parallel; the failures are logged and left out."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(decode, recs), total=len(recs), desc="decode recordings",
                            disable=not progress, leave=False))
    bank: dict[str, np.ndarray] = {}
    for rec, audio in zip(recs, results):
        if audio is not None:
            bank[rec.id] = audio
            rec.duration = audio.size / SAMPLE_RATE
            rec.content_hash = content_hash(audio)
    return bank


def assign_tags(recs: Iterable[Recording]) -> list[Recording]:
    """Fill ``tags`` from the unified taxonomy; drop (with a count) what it cannot place."""
    kept, dropped = [], defaultdict(list)
    for rec in recs:
        if rec.family == "drums":
            tags = tag_for_label(rec.label, PERCUSSION_TAGS) or tag_for_label("hand percussion")
        elif rec.extra.get("captions"):
            tags = tags_from_text(" ".join([rec.label, *rec.extra["captions"]])) or ("untagged",)
        else:
            tags = tag_for_label(rec.label)
        if not tags:
            dropped[rec.source].append(rec.label)
            continue
        rec.tags = tuple(tags)
        kept.append(rec)
    for source, labels in dropped.items():
        log.warning("%s: %d recordings have no unified tag and are left out (e.g. %s)",
                    source, len(labels), ", ".join(sorted(set(labels))[:5]))
    return kept


def deduplicate(recs: list[Recording]) -> list[Recording]:
    """Keep the first recording of each group of identical audio."""
    seen: dict[str, str] = {}
    out = []
    for rec in recs:
        if rec.content_hash and rec.content_hash in seen:
            continue
        if rec.content_hash:
            seen[rec.content_hash] = rec.id
        out.append(rec)
    if len(out) < len(recs):
        log.info("collapsed %d duplicate recordings (identical audio)", len(recs) - len(out))
    return out


def near_duplicate_groups(recs: list[Recording], bank: dict[str, np.ndarray], threshold: float = 0.995) -> dict[str, str]:
    """Recording id -> group id, joining recordings that must share a split.

    Joined: the velocity layers of one drum-kit instrument (scaled copies of one hit), and
    any two recordings whose peak-normalised waveforms correlate above ``threshold`` at equal
    length (±10 ms) — the same sound shipped twice at another gain, in another kit or archive.
    """
    parent = {r.id: r.id for r in recs}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    by_instrument: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_length: dict[int, list[str]] = defaultdict(list)
    for r in recs:
        if r.extra.get("kit") and r.extra.get("instrument"):
            by_instrument[(r.extra["kit"], r.extra["instrument"])].append(r.id)
        by_length[bank[r.id].size // 160].append(r.id)
    for ids in by_instrument.values():
        for other in ids[1:]:
            union(ids[0], other)
    for bucket, ids in by_length.items():
        candidates = ids + by_length.get(bucket + 1, [])
        for i, a in enumerate(ids):
            xa = bank[a]
            for b in candidates[i + 1:]:
                xb = bank[b]
                n = min(xa.size, xb.size)
                denom = float(np.linalg.norm(xa[:n]) * np.linalg.norm(xb[:n]))
                if denom > 0 and float(np.dot(xa[:n], xb[:n])) / denom > threshold:
                    union(a, b)
    return {rid: find(rid) for rid in parent}


def _stable_key(text: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{text}".encode()).hexdigest()


def assign_splits(recs: list[Recording], fractions: dict[str, float], seed: int,
                  groups: dict[str, str] | None = None) -> dict[str, str]:
    """Recording id -> split, spread evenly over each family's tags.

    Within a family, recordings are ordered by (tag, seeded hash) and walked with a
    low-discrepancy sequence (golden-ratio steps), so each split gets its fraction of the
    family and a spread of its tags, even for small families. A corpus' own val/test split
    (importers) wins; its train split only gives up a validation share.
    """
    golden = (5 ** 0.5 - 1) / 2
    out: dict[str, str] = {}
    # (family, may this group give recordings to test?) -> recordings still to place
    strata: dict[tuple[str, bool], list[Recording]] = defaultdict(list)
    for rec in recs:
        fixed = rec.extra.get("corpus_split")
        if fixed in ("val", "test"):
            out[rec.id] = fixed
        else:
            # A corpus' own training split may still give up a validation share, never test.
            strata[(rec.family, fixed != "train")].append(rec)
    offset = int(_stable_key("offset", seed)[:8], 16) / 16**8
    for (fam, may_test) in sorted(strata):
        f_test = fractions.get("test", 0.0) if may_test else 0.0
        f_val = fractions.get("val", 0.0)
        group = sorted(strata[(fam, may_test)], key=lambda r: (r.tags[0] if r.tags else "", _stable_key(r.id, seed)))
        for i, rec in enumerate(group):
            u = (offset + i * golden) % 1.0
            out[rec.id] = "test" if u < f_test else "val" if u < f_test + f_val else "train"
    if groups:
        # The first member (in corpus order) decides for its group; a corpus' official
        # val/test split is never overridden.
        free = [rec for rec in recs if rec.extra.get("corpus_split") not in ("val", "test")]
        first_split: dict[str, str] = {}
        for rec in free:
            first_split.setdefault(groups.get(rec.id, rec.id), out[rec.id])
        for rec in free:
            out[rec.id] = first_split[groups.get(rec.id, rec.id)]
    return out


def seeded_rng(seed: int, *names: str) -> random.Random:
    """An independent, reproducible RNG per (seed, purpose) so stages do not shift each other."""
    return random.Random(_stable_key("/".join(names), seed))
