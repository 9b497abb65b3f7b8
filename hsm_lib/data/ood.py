"""The out-of-domain (OOD) test set: real recordings from a source no training clip came from.

Tux Paint's stamp sounds (:mod:`hsm_lib.data.sources.tuxpaint`) are tagged with the OOD table of
the taxonomy (:data:`hsm_lib.data.taxonomy.OOD_RULES`), checked against the training sources'
raw recordings (a free sound can ship in two packages), composed into clips the way the corpus
composes short recordings (:func:`hsm_lib.data.compose.compose_clip`), and mixed into one
triplet set, ``ood``, exactly as the corpus's test sets are.

Output layout (``out_dir``)::

    testsets/ood.npy|.json     the triplets, int16 [N, 2, L] (target, other); TripletSet(dir, "ood")
    testsets/ood_clips.json    the composed clips' records
    recordings.json            every stamp sound found, with what became of it
    summary.json               counts and the Table I row

A training duplicate is found by the normalised cross-correlation of the waveforms (16 kHz,
trimmed) over their first seconds, at the best lag within ``max_lag_seconds``: a copy of the
same recording, trimmed or re-encoded differently, scores near 1, while different sounds,
even of the same kind, stay far below (crash cymbals from two packages: 0.88 when they are one
recording, under 0.1 otherwise; the stamps' best match among the other ~180k pairs is 0.72). A
check of the mean log-mel spectra (1.0 for the crash cymbal's two copies) first discards the
pairs that cannot match, so only a few percent of the pairs are cross-correlated.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import fftconvolve
from tqdm.auto import tqdm

from hsm_lib.audio import SAMPLE_RATE, fbank
from hsm_lib.data import bank as bankmod
from hsm_lib.data.bank import seeded_rng
from hsm_lib.data.build import DataConfig, gather_offline
from hsm_lib.data.compose import ComposeConfig, compose_clip
from hsm_lib.data.records import Clip, Recording, write_json_atomic
from hsm_lib.data.taxonomy import ood_tag_for_label
from hsm_lib.data.mixing import INT16_SCALE
from hsm_lib.data.triplets import pick_pairs, write_triplet_set
from hsm_lib.io import atomic_folder

log = logging.getLogger(__name__)

SET_NAME = "ood"
GENERATED_SOURCES = ("espeak", "synth")  # rendered here: no other package can ship their audio


@dataclass
class OodConfig:
    """The ``ood_data`` section of a profile in params.yaml (keys are these fields).

    The seed, clip length, SNR range and training sources come from the profile's ``data``
    section, so the OOD clips match the corpus's."""

    pairs: int = 100
    clips: int = 200  # composed clips the pairs are drawn from
    duplicate_threshold: float = 0.8  # waveform correlation at or above which a recording is a training duplicate
    compare_seconds: float = 1.5  # how much of each recording's start the correlation compares
    max_lag_seconds: float = 0.25  # misalignment allowed between two copies (their trims differ)
    spectrum_prefilter: float = 0.95  # mean log-mel spectrum correlation below which a pair is never compared


# --- duplicates of training recordings -----------------------------------------------------------


def _mean_spectrum(audio: np.ndarray, seconds: float) -> np.ndarray:
    """Zero-mean, unit-norm mean log-mel spectrum (32 bands) of the first ``seconds``."""
    x = audio[: int(seconds * SAMPLE_RATE)]
    x = np.pad(x, (0, max(0, 400 - x.size)))  # at least one 25-ms frame
    feats = fbank(x, (x.size - 400) // 160 + 1, n_mels=32).numpy()
    spec = np.maximum(feats, feats.max() - 10.0).mean(axis=0)  # floor: 10 nepers (~43 dB) below the peak
    spec = spec - spec.mean()
    return spec / max(float(np.linalg.norm(spec)), 1e-9)


def waveform_similarity(a: np.ndarray, b: np.ndarray, seconds: float = 1.5, max_lag_seconds: float = 0.25) -> float:
    """Peak normalised cross-correlation of the first ``seconds`` (as long as the shorter one
    lasts) of ``a`` and ``b``, over lags up to ``max_lag_seconds``; 1 for identical audio."""
    n = min(a.size, b.size, int(seconds * SAMPLE_RATE))
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denom <= 0:
        return 0.0
    corr = fftconvolve(a, b[::-1], mode="full")  # index n - 1 is lag 0
    lag = int(max_lag_seconds * SAMPLE_RATE)
    return float(np.abs(corr[max(0, n - 1 - lag): n + lag]).max() / denom)


def find_duplicates(candidates: dict[str, np.ndarray], reference: dict[str, np.ndarray], cfg: OodConfig,
                    progress: bool = False) -> dict[str, tuple[str, float]]:
    """Candidate id -> (best matching reference id, similarity) for every candidate whose
    waveform matches a reference recording at or above ``cfg.duplicate_threshold``."""
    if not candidates or not reference:
        return {}
    cand_ids, ref_ids = sorted(candidates), sorted(reference)
    spec_c = np.stack([_mean_spectrum(candidates[k], cfg.compare_seconds) for k in cand_ids])
    spec_r = np.stack([_mean_spectrum(reference[k], cfg.compare_seconds) for k in ref_ids])
    close = spec_c @ spec_r.T >= cfg.spectrum_prefilter
    out: dict[str, tuple[str, float]] = {}
    for i, cid in enumerate(tqdm(cand_ids, desc="compare with training", disable=not progress, leave=False)):
        scores = [(waveform_similarity(candidates[cid], reference[ref_ids[j]], cfg.compare_seconds,
                                       cfg.max_lag_seconds), ref_ids[j]) for j in np.flatnonzero(close[i])]
        best = max(scores, default=(0.0, ""))
        if best[0] >= cfg.duplicate_threshold:
            out[cid] = (best[1], round(best[0], 4))
    return out


def training_reference(data: DataConfig, workers: int = 2, progress: bool = False,
                       max_seconds: float = 10.0) -> dict[str, np.ndarray]:
    """The training sources' raw recordings (all of them, uncapped), decoded as the corpus
    decodes them; the generated sources (espeak, synth) are left out."""
    sources = [s for s in data.sources if s not in GENERATED_SOURCES]
    recs, _ = gather_offline(DataConfig(sources=sources, max_recordings_per_source=0, seed=data.seed))
    decode = functools.partial(bankmod.decode, max_seconds=max_seconds)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        audio = list(tqdm(pool.map(decode, recs), total=len(recs), desc="decode training recordings",
                          disable=not progress, leave=False))
    return {r.id: a for r, a in zip(recs, audio) if a is not None}


# --- the set --------------------------------------------------------------------------------------


def compose_clips(recs: list[Recording], audio_bank: dict[str, np.ndarray], n: int, clip_seconds: float,
                  seed: int, progress: bool = False) -> tuple[np.ndarray, list[Clip]]:
    """``n`` clips, int16 [n, L], composed from ``recs`` as the corpus composes its clips."""
    comp = ComposeConfig(clip_seconds=clip_seconds)
    length = int(round(clip_seconds * SAMPLE_RATE))
    audio = np.zeros((n, length), dtype=np.int16)
    clips = []
    rng = seeded_rng(seed, SET_NAME, "clips")
    for i in tqdm(range(n), desc="compose OOD clips", disable=not progress, leave=False):
        wave, clip = compose_clip(f"{SET_NAME}-{recs[0].family}-{i:06d}", "test", recs[0].family, recs,
                                  audio_bank, comp, rng)
        clip.index = i
        audio[i] = np.clip(np.round(wave * INT16_SCALE), -32768, 32767)
        clips.append(clip)
    return audio, clips


def _recording_rows(found: list[Recording], status: dict[str, str], dup: dict[str, tuple[str, float]]) -> list[dict]:
    rows = []
    for r in found:
        row = {**r.to_json(), "status": status.get(r.id, "used")}
        if r.id in dup:
            row["duplicate_of"], row["similarity"] = dup[r.id]
        rows.append(row)
    return rows


def build_ood_set(cfg: OodConfig, data: DataConfig, out_dir: Path, found: list[Recording],
                  reference: dict[str, np.ndarray], progress: bool = True) -> dict[str, Any]:
    """Tag, de-duplicate, compose and mix ``found`` (the scanner's recordings) into
    ``out_dir`` (replaced atomically). ``reference``: the training recordings, decoded. Returns
    the summary. With no usable recording, the set is written empty and the summary says why."""
    snr = (float(data.snr_db[0]), float(data.snr_db[1]))
    length = data.clip_samples
    status: dict[str, str] = {}
    for r in found:
        r.tags = ood_tag_for_label(r.label)
        if not r.tags:
            status[r.id] = "no tag: its name says no sound"
    tagged = [r for r in found if r.id not in status]
    audio_bank = bankmod.decode_all(tagged, workers=data.workers, progress=progress)
    for r in tagged:
        if r.id not in audio_bank:
            status[r.id] = "silent or undecodable"
    decoded = [r for r in tagged if r.id in audio_bank]
    unique = {r.id for r in bankmod.deduplicate(decoded)}
    for r in decoded:
        if r.id not in unique:
            status[r.id] = "identical to another stamp sound"
    dup = find_duplicates({k: audio_bank[k] for k in sorted(unique)}, reference, cfg, progress)
    for rid in dup:
        status[rid] = "duplicate of a training recording"
    used = [r for r in decoded if r.id not in status]

    why_empty = ""
    if not found:
        why_empty = "no recordings found: the Debian package tuxpaint-stamps-default is not installed"
    elif len({r.tags[0] for r in used}) < 2 or not (cfg.pairs and cfg.clips):
        why_empty = f"nothing to mix: {len(used)} usable recordings, pairs={cfg.pairs}, clips={cfg.clips}"
    clip_audio, clips = np.zeros((0, length), dtype=np.int16), []
    if not why_empty:
        clip_audio, clips = compose_clips(used, audio_bank, cfg.clips, data.clip_seconds, data.seed, progress)
    rng = seeded_rng(data.seed, SET_NAME, "pairs")
    specs = pick_pairs(clips, cfg.pairs, snr, rng) if clips else []

    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        (tmp / "testsets").mkdir()
        write_triplet_set(tmp / "testsets", SET_NAME, specs, clips, clip_audio, rng,
                          {"kind": "out-of-domain", "snr_db": list(snr), "empty_because": why_empty})
        write_json_atomic(tmp / "testsets" / f"{SET_NAME}_clips.json", [c.to_json() for c in clips])
        write_json_atomic(tmp / "recordings.json", _recording_rows(found, status, dup))
        reasons = Counter(status.values())
        row = {
            "name": SET_NAME, "sources": sorted({r.source for r in used}) or ["tuxpaint"],
            "recordings_found": len(found),
            "recordings_untagged": reasons["no tag: its name says no sound"],
            "recordings_identical": reasons["identical to another stamp sound"],
            "recordings_unreadable": reasons["silent or undecodable"],
            "duplicates_of_training": len(dup),
            "recordings_used": len(used),
            "classes": len({r.tags[0] for r in used}),
            "source_clips": len({s.target for s in specs} | {s.other for s in specs}),
            "captions": "templated captions", "duration_s": data.clip_seconds,
            "pairs": len(specs), "snr_db": list(snr),
        }
        summary = {
            "config": asdict(cfg), "seed": data.seed,
            "reference_sources": sorted({k.split(":", 1)[0] for k in reference}),
            "reference_recordings": len(reference), "empty_because": why_empty, "table1": row,
            "duplicates": {k: {"of": v[0], "similarity": v[1]} for k, v in sorted(dup.items())},
            "recordings_per_tag": dict(Counter(r.tags[0] for r in used).most_common()),
        }
        write_json_atomic(tmp / "summary.json", summary)
    if why_empty:
        log.warning("OOD test set is EMPTY: %s", why_empty)
    return summary
