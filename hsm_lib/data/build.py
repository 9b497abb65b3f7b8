"""Build the corpus: recordings -> splits -> clips -> triplets and test sets (stage 01_data).

Output layout (``out_dir``)::

    recordings.json          every recording used: source, file, license, label, tags, split
    clips/<split>.npy|.json  composed clips, int16 [N, L], and their records
    triplets/<split>.npy|.json   training/validation triplets (target, other) int16 [N, 2, L]
    testsets/<name>.npy|.json    the test sets (Table I analog), same format
    fbank_stats.json         mean/std of the AudioMAE fbank over training clips
    summary.json             counts per source, family and split; sources used and missing

The whole folder is written under a temporary name and renamed at the end, so a failed
build never leaves a half-written corpus behind.
"""

from __future__ import annotations

import dataclasses

import logging
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hsm_lib.audio import SAMPLE_RATE, fbank
from hsm_lib.config import from_section
from hsm_lib.data import bank as bankmod
from hsm_lib.data.bank import SPLITS, seeded_rng
from hsm_lib.data.compose import ComposeConfig, clip_from_recording, compose_clip, samples_per_clip
from hsm_lib.data.records import Clip, Recording, write_json_atomic
from hsm_lib.data.taxonomy import tag_for_label
from hsm_lib.data.mixing import INT16_SCALE
from hsm_lib.data.triplets import STORAGES, pick_pairs, write_triplet_set
from hsm_lib.io import atomic_folder

log = logging.getLogger(__name__)

OFFLINE_SOURCES = ("hydrogen", "gcompris", "wesnoth", "lmms", "asterisk", "espeak", "synth")
PAPER_CORPORA = ("audiocaps", "clotho", "fsd50k", "esc50", "wavcaps")
MUSIC_CLASSES = ("accordion", "acoustic guitar", "cello", "clarinet", "erhu", "flute", "saxophone",
                 "trumpet", "tuba", "violin", "xylophone")


@dataclass
class DataConfig:
    """The ``data`` section of a profile in params.yaml (keys are these fields)."""

    seed: int = 0
    sample_rate: int = SAMPLE_RATE
    clip_seconds: float = 4.0
    fbank_frames: int = 400
    sources: list[str] = field(default_factory=lambda: list(OFFLINE_SOURCES))
    max_recordings_per_source: int = 0  # 0: all
    espeak_sentences: int = 120
    synth_per_class: int = 12
    split_fractions: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "val": 0.1, "test": 0.1})
    clips: dict[str, int] = field(default_factory=lambda: {"train": 1200, "val": 120, "test": 360})
    triplets: dict[str, int] = field(default_factory=lambda: {"train": 1000, "val": 100})
    snr_db: list[float] = field(default_factory=lambda: [-15.0, 15.0])
    snr_db_zero_shot: list[float] = field(default_factory=lambda: [-5.0, 5.0])
    test_families: list[str] | str = "auto"
    test_pairs_per_family: int = 60
    test_pairs_mixed: int = 120
    music_clips_per_class: int = 8
    test_pairs_music: int = 60
    corpora: dict[str, dict[str, str]] = field(default_factory=dict)  # paper profile: name -> paths
    use_offline_corpus: bool = True  # paper profile: fall back to the offline corpus at paper sizes
    workers: int = 2
    # How the training and validation triplets are stored: "premixed" (int16 [N, 2, L]) or "records"
    # (mixed when read from the stored clips; hsm_lib.data.streaming). Test sets are always premixed.
    triplet_storage: str = "premixed"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "DataConfig":
        cfg = from_section(cls, params, "data")
        if cfg.sample_rate != SAMPLE_RATE:  # every model of the paper runs at 16 kHz (Sec. IV-A)
            raise ValueError(f"sample_rate must be {SAMPLE_RATE}, got {cfg.sample_rate}")
        if cfg.triplet_storage not in STORAGES:
            raise ValueError(f"triplet_storage must be one of {STORAGES}, got {cfg.triplet_storage!r}")
        return cfg

    @property
    def clip_samples(self) -> int:
        return samples_per_clip(self.clip_seconds)


class MissingCorpusError(RuntimeError):
    """The paper profile asked for corpora that are not on this machine."""


# --- gathering recordings ------------------------------------------------------------------


def _cap(recs: list[Recording], n: int, seed: int) -> list[Recording]:
    """At most ``n`` recordings, chosen evenly over tags so small profiles keep variety."""
    if not n or len(recs) <= n:
        return recs
    by_tag: dict[str, list[Recording]] = defaultdict(list)
    for r in recs:
        by_tag[(tag_for_label(r.label) or ("",))[0]].append(r)
    rng = seeded_rng(seed, "cap", recs[0].source)
    for group in by_tag.values():
        rng.shuffle(group)
    out: list[Recording] = []
    while len(out) < n:
        for tag in sorted(by_tag):
            if by_tag[tag] and len(out) < n:
                out.append(by_tag[tag].pop())
    return out


def gather_offline(cfg: DataConfig) -> tuple[list[Recording], dict[str, str]]:
    """Recordings from the offline sources in ``cfg.sources``; and why any source is missing."""
    from hsm_lib.data.sources import debian

    scanners = {
        "hydrogen": debian.scan_hydrogen,
        "wesnoth": debian.scan_wesnoth,
        "lmms": debian.scan_lmms,
        "asterisk": debian.scan_asterisk,
    }
    recs: list[Recording] = []
    missing: dict[str, str] = {}
    for source in cfg.sources:
        if source in scanners:
            found = scanners[source]()
        elif source == "gcompris":
            from hsm_lib.data.sources.gcompris import scan_gcompris

            found = scan_gcompris()
        elif source == "espeak":
            from hsm_lib.data.sources.speech import espeak_recordings

            # measure=False: decode_all renders once and fills duration and hash; no second render.
            found = espeak_recordings(cfg.espeak_sentences, cfg.seed, measure=False)
        elif source == "synth":
            from hsm_lib.data.sources.synth import synthesize_recordings

            found = synthesize_recordings(cfg.synth_per_class, cfg.seed, measure=False)
        else:
            raise ValueError(f"unknown source '{source}' (known: {', '.join(OFFLINE_SOURCES)})")
        if not found:
            missing[source] = f"no recordings found for '{source}' (is its Debian package installed? see scripts/setup.sh)"
            continue
        recs.extend(_cap(found, cfg.max_recordings_per_source, cfg.seed))
    return recs, missing


def gather_sources(cfg: DataConfig, sources: list[str]) -> list[Recording]:
    """The recordings of ``sources`` again, whichever kind each is: an offline source is rescanned,
    one of the paper's corpora re-imported from ``cfg.corpora`` (e.g. a probe decoding the
    recordings a corpus was built from)."""
    offline = [s for s in sources if s not in cfg.corpora]
    recs = gather_offline(dataclasses.replace(cfg, sources=offline, max_recordings_per_source=0))[0] if offline else []
    corpora = {name: paths for name, paths in cfg.corpora.items() if name in sources}
    return recs + (gather_corpora(dataclasses.replace(cfg, corpora=corpora)) if corpora else [])


def gather_corpora(cfg: DataConfig) -> list[Recording]:
    """The paper's corpora through the importers, from the paths in ``cfg.corpora``."""
    from hsm_lib.data import importers

    problems = []
    for name, paths in cfg.corpora.items():
        problems += [f"{name}: {p}" for p in importers.find_missing(paths, corpus=name)]
    if problems or not cfg.corpora:
        raise MissingCorpusError(
            "the paper profile reads the paper's corpora, and these are missing:\n  - "
            + "\n  - ".join(problems or ["no corpora configured under <profile>.data.corpora in params.yaml"])
            + "\nSet their paths in params.yaml, or set use_offline_corpus: true to run the offline corpus at paper sizes."
        )
    recs: list[Recording] = []
    for name, paths in cfg.corpora.items():
        recs += importers.import_corpus(name, **paths)
    return recs


# --- clips -----------------------------------------------------------------------------------


def _families(recs: list[Recording]) -> list[str]:
    return sorted({r.family for r in recs})


def build_clips(cfg: DataConfig, recs: list[Recording], split_of: dict[str, str], bank: dict[str, np.ndarray],
                progress: bool, out_dir: Path) -> dict[str, tuple[np.ndarray, list[Clip]]]:
    """Per split: int16 [N, L] audio and clip records, the same number from each family.

    Each split's audio is written straight into ``out_dir/<split>.npy`` (a memory map: the paper's
    230k ten-second clips are 74 GB), which the returned array maps."""
    comp = ComposeConfig(clip_seconds=cfg.clip_seconds)
    out = {}
    for split in SPLITS:
        pools: dict[str, list[Recording]] = defaultdict(list)
        for r in recs:
            if split_of[r.id] == split:
                pools[r.family].append(r)
        families = sorted(pools)
        n_total = cfg.clips.get(split, 0)
        if n_total and not families:
            raise RuntimeError(f"no recordings in the '{split}' split: too few recordings for the split fractions "
                               f"{cfg.split_fractions}, or the corpora define no '{split}' split")
        audio = np.lib.format.open_memmap(out_dir / f"{split}.npy", mode="w+", dtype=np.int16,
                                          shape=(n_total, cfg.clip_samples))
        clips: list[Clip] = []
        rng = seeded_rng(cfg.seed, "clips", split)
        for i in tqdm(range(n_total), desc=f"compose {split} clips", disable=not progress, leave=False):
            family = families[i % len(families)]
            pool = pools[family]
            clip_id = f"{split}-{family}-{i:06d}"
            if pool[0].extra.get("captions"):  # imported corpora: clips are used as they are
                rec = rng.choice(pool)
                wave, clip = clip_from_recording(clip_id, split, rec, bank[rec.id], cfg.clip_seconds, rng)
            else:
                wave, clip = compose_clip(clip_id, split, family, pool, bank, comp, rng)
            clip.index = i
            audio[i] = np.clip(np.round(wave * INT16_SCALE), -32768, 32767)
            clips.append(clip)
        audio.flush()
        out[split] = (audio, clips)
    return out


# --- test sets --------------------------------------------------------------------------------


def _diverse_families(clips: list[Clip]) -> list[str]:
    """Families in which at least two clips have disjoint tags (an in-domain set is possible)."""
    out = []
    for fam in sorted({c.family for c in clips}):
        tag_sets = [set(c.tags) for c in clips if c.family == fam]
        if any(not (a & b) for i, a in enumerate(tag_sets) for b in tag_sets[i + 1:]):
            out.append(fam)
    return out


def music_synth_clips(cfg: DataConfig) -> tuple[np.ndarray, list[Clip]]:
    """The zero-shot set's sources: the 11 MUSIC classes rendered from the GM soundfont."""
    from hsm_lib.data.sources.soundfont import render_music_clips

    recs = render_music_clips(cfg.music_clips_per_class, cfg.clip_seconds, cfg.seed)
    audio = np.zeros((len(recs), cfg.clip_samples), dtype=np.int16)
    clips = []
    for i, rec in enumerate(recs):
        wave, sr = rec.load()  # type: ignore[misc]
        wave = np.asarray(wave, dtype=np.float32)[: cfg.clip_samples]
        wave = wave * np.float32(0.9 / max(float(np.abs(wave).max()), 1e-9))
        audio[i, : wave.size] = np.round(wave * INT16_SCALE)
        label = rec.label
        clips.append(Clip(id=f"music-{i:04d}", split="test", family="music_synth", sources=(rec.source,),
                          recordings=(rec.id,), original_files=(rec.original_file,), licenses=(rec.license,),
                          labels=(label,), tags=(f"music:{label}",),
                          captions=(f"the sound of {'an' if label[0] in 'aeiou' else 'a'} {label}", label),
                          duration=cfg.clip_seconds, index=i))
    return audio, clips


def build_test_sets(cfg: DataConfig, out_dir: Path, clips: list[Clip], audio: np.ndarray,
                    progress: bool, missing: dict[str, str]) -> dict[str, dict[str, Any]]:
    """In-domain sets per family, the mixed set, and MUSIC-synth. Returns Table I rows."""
    rows: dict[str, dict[str, Any]] = {}
    families = _diverse_families(clips) if cfg.test_families == "auto" else list(cfg.test_families)
    absent = [f for f in families if f not in {c.family for c in clips}]
    if absent:  # e.g. the paper profile's corpora, with use_offline_corpus: the offline families stand in
        log.warning("test families %s are not in this corpus; using its own families instead", absent)
        families = _diverse_families(clips)
    by_family = defaultdict(list)
    for i, c in enumerate(clips):
        by_family[c.family].append(i)
    snr = (float(cfg.snr_db[0]), float(cfg.snr_db[1]))

    def table_row(name: str, sources: set[str], specs, set_clips, caption: str) -> dict[str, Any]:
        used = {s.target for s in specs} | {s.other for s in specs}
        return {"name": name, "sources": sorted(sources), "source_clips": len(used), "captions": caption,
                "duration_s": cfg.clip_seconds, "pairs": len(specs), "snr_db": list(snr)}

    for fam in tqdm(families, desc="in-domain test sets", disable=not progress, leave=False):
        rng = seeded_rng(cfg.seed, "test", fam)
        pool = by_family[fam]
        specs = pick_pairs(clips, cfg.test_pairs_per_family, snr, rng, target_pool=pool, other_pool=pool)
        write_triplet_set(out_dir, fam, specs, clips, audio, rng, {"kind": "in-domain", "snr_db": list(snr)})
        rows[fam] = table_row(fam, {s for i in pool for s in clips[i].sources}, specs, clips, "templated captions")

    for fam in sorted(set(by_family) - set(families)):
        missing[f"in-domain:{fam}"] = "no in-domain set: every test clip of this family shares a tag (e.g. all speech is 'speech')"

    # Mixed set: targets drawn equally from every family (round robin), partners from any family.
    rng = seeded_rng(cfg.seed, "test", "mixed")
    all_families = sorted(by_family)
    target_pool = [by_family[f][k % len(by_family[f])] for k in range(cfg.test_pairs_mixed) for f in all_families][: cfg.test_pairs_mixed]
    specs = pick_pairs(clips, cfg.test_pairs_mixed, snr, rng, target_pool=target_pool, other_pool=list(range(len(clips))))
    write_triplet_set(out_dir, "mixed", specs, clips, audio, rng, {"kind": "mixed", "snr_db": list(snr)})
    rows["mixed"] = table_row("mixed", {s for c in clips for s in c.sources}, specs, clips, "templated captions")

    # MUSIC-synth: zero-shot, soundfont renders never used in training, SNR [-5, 5] dB.
    music = None
    if cfg.test_pairs_music > 0:
        try:
            music = music_synth_clips(cfg)
        except RuntimeError as exc:  # no soundfont or libfluidsynth: build the rest, say so
            log.warning("MUSIC-synth skipped: %s", exc)
            missing["soundfont"] = str(exc)
    if music is not None:
        music_audio, music_clips = music
        zs = (float(cfg.snr_db_zero_shot[0]), float(cfg.snr_db_zero_shot[1]))
        rng = seeded_rng(cfg.seed, "test", "music_synth")
        specs = pick_pairs(music_clips, cfg.test_pairs_music, zs, rng)
        write_triplet_set(out_dir, "music_synth", specs, music_clips, music_audio, rng,
                          {"kind": "zero-shot", "snr_db": list(zs)})
        write_json_atomic(out_dir / "music_synth_clips.json", [c.to_json() for c in music_clips])
        rows["music_synth"] = {**table_row("music_synth", {"soundfont"}, specs, music_clips, "class labels only"),
                               "snr_db": list(zs)}
    return rows


# --- statistics and reports ---------------------------------------------------------------------


def fbank_stats(audio: np.ndarray, n_frames: int, max_clips: int = 200, seed: int = 0) -> dict[str, float]:
    """Mean and std of the AudioMAE fbank over (a sample of) the training clips."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(audio), size=min(max_clips, len(audio)), replace=False)
    feats = np.concatenate([fbank(audio[i].astype(np.float32) / INT16_SCALE, n_frames).numpy() for i in sorted(rows)])
    return {"mean": float(feats.mean()), "std": float(feats.std()), "n_clips": int(len(rows)), "n_frames": n_frames}


def counts(recs: list[Recording], split_of: dict[str, str], clip_sets: dict[str, tuple[np.ndarray, list[Clip]]]) -> dict[str, Any]:
    per_source = defaultdict(Counter)
    for r in recs:
        per_source[r.source][split_of[r.id]] += 1
    clips_per = defaultdict(Counter)
    for split, (_, clips) in clip_sets.items():
        for c in clips:
            for s in c.sources:
                clips_per[s][split] += 1
    tag_counts = Counter(t for r in recs for t in r.tags[:1])
    return {
        "recordings_per_source": {s: dict(c) for s, c in sorted(per_source.items())},
        "clips_per_source": {s: dict(c) for s, c in sorted(clips_per.items())},
        "recordings_per_tag": dict(tag_counts.most_common()),
    }


def build_corpus(cfg: DataConfig, out_dir: Path, progress: bool = True, use_corpora: bool = False) -> dict[str, Any]:
    """Build everything under ``out_dir`` (replaced atomically). Returns the summary."""
    t0 = time.time()
    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        (tmp / "clips").mkdir()
        (tmp / "triplets").mkdir()
        (tmp / "testsets").mkdir()
        if use_corpora:
            recs, missing = gather_corpora(cfg), {}
        else:
            recs, missing = gather_offline(cfg)
        if not recs:
            raise RuntimeError("no recordings found from any source: " + "; ".join(missing.values()))
        audio_bank = bankmod.decode_all(recs, workers=cfg.workers, progress=progress)
        recs = [r for r in recs if r.id in audio_bank]
        recs = bankmod.deduplicate(bankmod.assign_tags(recs))
        groups = bankmod.near_duplicate_groups(recs, audio_bank)
        split_of = bankmod.assign_splits(recs, cfg.split_fractions, cfg.seed, groups)
        write_json_atomic(tmp / "recordings.json", [{**r.to_json(), "split": split_of[r.id]} for r in recs])

        clip_sets = build_clips(cfg, recs, split_of, audio_bank, progress, tmp / "clips")
        for split, (audio, clips) in clip_sets.items():
            write_json_atomic(tmp / "clips" / f"{split}.json", [c.to_json() for c in clips])

        snr = (float(cfg.snr_db[0]), float(cfg.snr_db[1]))
        for split in ("train", "val"):
            audio, clips = clip_sets[split]
            rng = seeded_rng(cfg.seed, "triplets", split)
            specs = pick_pairs(clips, cfg.triplets.get(split, 0), snr, rng)
            write_triplet_set(tmp / "triplets", split, specs, clips, audio, rng, {"kind": split, "snr_db": list(snr)},
                              storage=cfg.triplet_storage, clips_file=tmp / "clips" / f"{split}.npy")

        test_audio, test_clips = clip_sets["test"]
        table1 = build_test_sets(cfg, tmp / "testsets", test_clips, test_audio, progress, missing)
        stats = fbank_stats(clip_sets["train"][0], cfg.fbank_frames, seed=cfg.seed)
        write_json_atomic(tmp / "fbank_stats.json", stats)
        summary = {
            "config": asdict(cfg),
            "sources_used": sorted({r.source for r in recs}),
            "sources_missing": missing,
            **counts(recs, split_of, clip_sets),
            "clips": {s: len(c) for s, (_, c) in clip_sets.items()},
            "triplets": {s: cfg.triplets.get(s, 0) for s in ("train", "val")},
            "test_sets": table1,
            "fbank_stats": stats,
        }
        # No timings inside the output: identical inputs must give an identical corpus folder.
        write_json_atomic(tmp / "summary.json", summary)
    summary["build_seconds"] = round(time.time() - t0, 1)
    summary["disk_bytes"] = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    return summary
