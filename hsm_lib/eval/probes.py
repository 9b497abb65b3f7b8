"""Linear probes on frozen features: the Table VII analog (paper Sec. V-D2).

The paper probes AudioMAE on HEAR's ESC-50, Speech Commands (5 h) and NSynth pitch (5 h).
Offline we build three probes with the same intent, each with a train and a test split
that share no recording:

* ``sound_class`` (ESC-50 analog): the unified tag of single real recordings (drum-kit
  pieces, game effects, instruments...) from the corpus's train split, tested on its
  held-out (val + test) recordings; classes with too few recordings on either side are
  dropped.
* ``spoken_word`` (Speech Commands analog): the digits "zero".."nine" and the letters
  "a".."z" said by the real Asterisk speaker (Allison, three speeds) and by espeak-ng voices.
  Split by *speaker*: a speaker's words are all on one side; the real speaker is a test
  speaker, so the probe asks whether the features carry the word across voices.
* ``pitch_class`` (NSynth pitch analog): the pitch class (C, C#, ... B) of synthetic
  harmonic notes of random timbre over four octaves, rendered with a seed the corpus
  never used.

Every example is placed in a clip of the model's length over a -60 dBFS noise floor
(the corpus's clips have one too; digital silence is out of distribution). Features are
pooled over time only (S keeps its frequency rows, the log-mel its bins); the classifier is a
standardised multinomial logistic regression.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from hsm_lib.audio import SAMPLE_RATE, read_mono, resample

log = logging.getLogger(__name__)

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
ASTERISK_SPEEDS = (0.9, 1.0, 1.1)


@dataclass
class ProbeSet:
    """A labelled probe. Waves are [N, L] float32 clips at 16 kHz; labels index ``classes``."""

    name: str
    classes: list[str]
    train_waves: np.ndarray
    train_labels: np.ndarray
    test_waves: np.ndarray
    test_labels: np.ndarray
    note: str

    def summary(self) -> dict:
        return {"probe": self.name, "classes": len(self.classes), "train": len(self.train_labels),
                "test": len(self.test_labels), "note": self.note}


def place_in_clip(audio: np.ndarray, n_samples: int, rng: np.random.Generator, floor_db: float = -60.0) -> np.ndarray:
    """Put ``audio`` (cropped to the clip if longer) at a random offset in a clip of
    ``n_samples`` over white noise at ``floor_db`` dBFS RMS. -> [n_samples] float32."""
    clip = rng.standard_normal(n_samples).astype(np.float32) * np.float32(10 ** (floor_db / 20))
    audio = np.asarray(audio, dtype=np.float32)[:n_samples]
    start = int(rng.integers(0, n_samples - len(audio) + 1))
    clip[start:start + len(audio)] += audio
    return clip


def _stack(items: list[tuple[np.ndarray, int]], n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    waves = np.stack([place_in_clip(a, n_samples, rng) for a, _ in items]) if items else np.zeros((0, n_samples), np.float32)
    return waves, np.array([y for _, y in items], dtype=np.int64)


# --- sound class (ESC-50 analog) ---------------------------------------------------------------


def sound_class_probe(corpus: str | Path, data_cfg, clip_seconds: float, min_train: int = 8, min_test: int = 2,
                      max_per_class: int = 60, seed: int = 0) -> ProbeSet:
    """Single real recordings by their most specific unified tag; split as the corpus splits them.

    Args:
        corpus: the data stage's corpus folder (its ``recordings.json`` gives tags and splits).
        data_cfg: the profile's :class:`~hsm_lib.data.build.DataConfig` (which sources to rescan).
    """
    from hsm_lib.data.bank import decode_all
    from hsm_lib.data.build import gather_sources

    recs = json.loads((Path(corpus) / "recordings.json").read_text())
    recs = [r for r in recs if r["family"] != "speech" and r["tags"]]
    by_tag: dict[str, dict[str, list[dict]]] = {}
    for r in recs:
        side = "train" if r["split"] == "train" else "test"
        by_tag.setdefault(r["tags"][0], {"train": [], "test": []})[side].append(r)
    classes = sorted(t for t, s in by_tag.items() if len(s["train"]) >= min_train and len(s["test"]) >= min_test)
    rng = np.random.default_rng(seed)
    chosen: dict[str, tuple[str, int]] = {}
    for y, tag in enumerate(classes):
        for side, rs in by_tag[tag].items():
            if len(rs) > max_per_class:  # cap the big drum classes so the probe stays balanced-ish
                rs = [rs[i] for i in sorted(rng.choice(len(rs), max_per_class, replace=False))]
            chosen.update({r["id"]: (side, y) for r in rs})
    sources = sorted({r["source"] for r in recs if r["id"] in chosen})
    found = gather_sources(data_cfg, sources)
    bank = decode_all([r for r in found if r.id in chosen], progress=False)
    missing = len(chosen) - len(bank)
    if missing:
        log.warning("sound_class probe: %d recordings could not be decoded and are left out", missing)
    n = int(round(clip_seconds * SAMPLE_RATE))
    sides = {s: [(bank[i], y) for i, (side, y) in sorted(chosen.items()) if side == s and i in bank] for s in ("train", "test")}
    tr, ytr = _stack(sides["train"], n, seed)
    te, yte = _stack(sides["test"], n, seed + 1)
    return ProbeSet("sound_class", classes, tr, ytr, te, yte,
                    f"{len(classes)} unified tags of single real recordings; train = corpus train split, "
                    "test = its val + test recordings")


# --- spoken word (Speech Commands analog) --------------------------------------------------------


def _asterisk_word(root: Path, word: str) -> Path:
    if word in DIGITS:
        return root / "digits" / f"{DIGITS.index(word)}.wav"
    return root / "letters" / f"{word}.wav"


def spoken_word_probe(clip_seconds: float, n_voices: int = 12, test_fraction: float = 0.34, words: tuple[str, ...] | None = None,
                      seed: int = 0, workers: int = 2, asterisk_root: Path | None = None) -> ProbeSet:
    """Digits and letters by the real Asterisk speaker (test side) and ``n_voices`` espeak-ng voices
    (split by voice). Raises if neither espeak-ng nor the Asterisk prompts are installed."""
    from concurrent.futures import ThreadPoolExecutor

    from hsm_lib.data.bank import trim_silence
    from hsm_lib.data.sources import debian
    from hsm_lib.data.sources.speech import random_voice, espeak_available, render_espeak
    from hsm_lib.data.sources.synth import stable_rng

    words = tuple(words or DIGITS + LETTERS)
    root = Path(asterisk_root) if asterisk_root is not None else debian.ASTERISK_ROOT
    items: list[tuple[str, Callable[[], np.ndarray], int]] = []  # (speaker, loader, label)
    if root.is_dir():
        for speed in ASTERISK_SPEEDS:
            for y, w in enumerate(words):
                def load(w=w, speed=speed) -> np.ndarray:
                    audio, sr = read_mono(_asterisk_word(root, w))
                    # Resampling by `speed` plays the take faster and higher, like a shorter vocal tract.
                    return trim_silence(resample(audio, int(round(sr * speed)), SAMPLE_RATE))
                items.append((f"asterisk-x{speed}", load, y))
    if espeak_available():
        for v in range(n_voices):
            _, voice, speed, pitch = random_voice(stable_rng("probe-voice", v, seed))
            for y, w in enumerate(words):
                items.append((f"espeak-{v}:{voice}", lambda w=w, voice=voice, speed=speed, pitch=pitch:
                              render_espeak(w, voice, speed, pitch)[0], y))
    if not items:
        raise RuntimeError("the spoken-word probe needs espeak-ng or asterisk-core-sounds-en-wav (see scripts/setup.sh)")
    voices = sorted({s for s, _, _ in items if s.startswith("espeak")})
    rng = np.random.default_rng(seed)
    held_out = [v for v in voices if rng.random() < test_fraction]
    test_speakers = set(held_out) | {s for s, _, _ in items if s.startswith("asterisk")}
    if len(held_out) == len(voices) or not test_speakers:
        raise RuntimeError(f"the spoken-word probe cannot split {len(voices)} espeak voices into train and test speakers")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        audio = list(pool.map(lambda it: it[1](), items))
    n = int(round(clip_seconds * SAMPLE_RATE))
    train = [(a, y) for (s, _, y), a in zip(items, audio) if s not in test_speakers]
    test = [(a, y) for (s, _, y), a in zip(items, audio) if s in test_speakers]
    tr, ytr = _stack(train, n, seed)
    te, yte = _stack(test, n, seed + 1)
    real = "the real Asterisk speaker at 3 speeds" if root.is_dir() else "no real speaker (Asterisk prompts missing)"
    return ProbeSet("spoken_word", list(words), tr, ytr, te, yte,
                    f"{len(words)} words; train: {len(voices) - len(held_out)} espeak voices; "
                    f"test: {len(held_out)} held-out espeak voices + {real}")


# --- pitch class (NSynth pitch analog) -----------------------------------------------------------


def pitch_class_probe(clip_seconds: float, n_notes: int = 360, test_fraction: float = 0.34, seed: int = 0) -> ProbeSet:
    """Synthetic harmonic notes of random timbre and envelope, labelled by pitch class.

    Rendered with the corpus's own synthesiser under seed ``10_000 + seed``: the corpus
    (seed ``seed``) never contains these notes.
    """
    from hsm_lib.data.sources.synth import plan_recording, render_synth

    probe_seed = 10_000 + seed
    items = []
    for i in range(n_notes):
        plan = plan_recording("harmonic_note", i, probe_seed)
        assert plan.midi_pitch is not None
        items.append((render_synth("harmonic_note", i, probe_seed)[0], plan.midi_pitch % 12))
    n = int(round(clip_seconds * SAMPLE_RATE))
    n_test = int(round(n_notes * test_fraction))
    tr, ytr = _stack(items[n_test:], n, seed)
    te, yte = _stack(items[:n_test], n, seed + 1)
    return ProbeSet("pitch_class", list(PITCH_CLASSES), tr, ytr, te, yte,
                    f"pitch class of {n_notes} unseen synthetic harmonic notes (MIDI 36-83)")


# --- the linear classifier ---------------------------------------------------------------------


def linear_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                          c: float = 1.0, seed: int = 0) -> float:
    """Standardise on the train split, fit a multinomial logistic regression (inverse
    regularisation ``c``), return the test accuracy in [0, 1]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from threadpoolctl import threadpool_limits

    # (Choosing C by cross-validation was tried: 10x slower on 2 cores, same ranking of the rows.)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=seed))
    # One BLAS thread: L-BFGS's products here are small ([~900, 1536] x [1536, 33]), and two
    # OpenBLAS threads made the cpu profile's sound-class fit 3.2x slower (19.9 -> 6.2 s, 973 vs 976
    # iterations, measured in one run on 2 cores; 1 of 247 test clips changed its prediction).
    with threadpool_limits(limits=1, user_api="blas"):
        clf.fit(train_x, train_y)
    return float((clf.predict(test_x) == test_y).mean())


def mean_logmel(fbank: np.ndarray) -> np.ndarray:
    """[N, T, F] -> [N, F]: the log-mel baseline row (time-averaged log-mel)."""
    return np.asarray(fbank, dtype=np.float32).mean(axis=1)


def run_probes(probes: list[ProbeSet], extractors: dict[str, Callable[[torch.Tensor], np.ndarray]], n_frames: int,
               mean: float, std: float, progress: bool = False) -> dict[str, dict[str, float]]:
    """Accuracy (percent) of a linear probe for every (feature row, probe).

    ``extractors`` maps a row name to a function from normalised fbanks [N, T, F] (float32;
    computed once per probe and shared by the rows) to pooled features [N, D].
    Returns {row: {probe: accuracy %}}.
    """
    from tqdm.auto import tqdm

    from hsm_lib.features import fbanks

    from joblib import Parallel, delayed

    fits = []   # (row, probe, the fit's arguments)
    for p in tqdm(probes, desc="probe features", disable=not progress, leave=False):
        train = fbanks(p.train_waves, n_frames, mean, std, dtype=torch.float32)
        test = fbanks(p.test_waves, n_frames, mean, std, dtype=torch.float32)
        fits += [(row, p.name, (fx(train), p.train_labels, fx(test), p.test_labels)) for row, fx in extractors.items()]
    # Each fit is single-threaded (see linear_probe_accuracy): one per core, in worker processes.
    accuracy = Parallel(n_jobs=max(1, min(len(fits), os.cpu_count() or 1)))(delayed(linear_probe_accuracy)(*args) for _, _, args in fits)
    results: dict[str, dict[str, float]] = {row: {} for row in extractors}
    for (row, probe, _), acc in zip(fits, accuracy):
        results[row][probe] = 100.0 * acc
    return results


def time_pooled(S: torch.Tensor, cols: int) -> torch.Tensor:
    """S [N, rows * cols, C_s] (time-major patches) -> [N, cols * C_s]: the mean over time of each
    frequency row, the rows side by side. Pooling over frequency too (one C_s vector) throws away
    where in the spectrum a sound is; measured on the cpu profile's checkpoint (sound class /
    spoken word / pitch class, %): mean over all patches 40.1 / 15.5 / 45.9, over time only
    46.2 / 26.6 / 65.6 (random init 34.0 / 7.9 / 60.7 and 38.1 / 21.4 / 82.0)."""
    return S.reshape(S.shape[0], -1, cols, S.shape[-1]).mean(1).flatten(1)


def audiomae_extractor(model, batch_size: int = 32) -> Callable[[torch.Tensor], np.ndarray]:
    """Normalised fbanks [N, T, F] -> AudioMAE features S pooled over time [N, (F/P) C_s] (the probe's input)."""
    from hsm_lib.features import batched

    device = next(model.parameters()).device
    cols = model.cfg.grid[1]
    return lambda x: batched(lambda b: time_pooled(model.features(b), cols), x, batch_size, device).numpy()


def logmel_extractor() -> Callable[[torch.Tensor], np.ndarray]:
    """Normalised fbanks [N, T, F] -> time-averaged log-mel [N, 128]."""
    return lambda x: mean_logmel(x.numpy())


PROBE_TITLES = {"sound_class": "sound class (ESC-50 analog)", "spoken_word": "spoken word (SC analog)",
                "pitch_class": "pitch class (NSynth-pitch analog)"}
PAPER_TABLE7 = {"AudioMAE-B (paper's reference row)": {"ESC-50": 57.6, "SC-5h": 33.9, "NS-5h": 61.4},
                "Our pretrained AudioMAE (paper)": {"ESC-50": 83.7, "SC-5h": 77.1, "NS-5h": 66.0}}


def accuracy_ci95(accuracy_pct: float, n: int) -> float:
    """Half-width (percentage points) of the normal-approximation 95 % interval of an accuracy
    measured on ``n`` test clips."""
    p = accuracy_pct / 100.0
    return 196.0 * float(np.sqrt(p * (1 - p) / n)) if n else float("nan")


def seeds_mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of the 95 % t-interval of the mean, over runs that differ only in
    their seed (the random-init row: one initialisation is one draw, and draws differ by more
    than one test set's sampling error). With a handful of seeds the t quantile, not 1.96."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()), float("nan")
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def write_table7(results: dict[str, dict[str, float]], probes: list[ProbeSet], profile: str, notes: list[str] = (),
                 seed_rows: dict[str, list[str]] | None = None) -> None:
    """``reports/table7_linear_probe.{md,json}``: every row's accuracy with its 95 % interval, and a
    majority-class row for scale.

    ``seed_rows`` maps a row name to the ``results`` rows it averages (the same features at several
    seeds); such a row shows the mean over seeds with the t-interval of that mean, and a note lists
    the seeds' values. Any other row shows its accuracy with the binomial interval of its test set."""
    from hsm_lib.reporting import write_table

    seed_rows = seed_rows or {}
    group_at = {members[0]: group for group, members in seed_rows.items()}   # a group stands where its first seed does
    averaged = {member for members in seed_rows.values() for member in members}
    names = [p.name for p in probes]
    n_test = {p.name: len(p.test_labels) for p in probes}
    rows, cis = [], {}
    for row in (group_at.get(r, r) for r in results if r in group_at or r not in averaged):
        if row in seed_rows:
            cells = [seeds_mean_ci95([results[m][n] for m in seed_rows[row]]) for n in names]
        else:
            cells = [(results[row][n], accuracy_ci95(results[row][n], n_test[n])) for n in names]
        cis[row] = {n: {"mean": m, "ci95": h} for n, (m, h) in zip(names, cells)}
        rows.append([row, *(f"{m:.1f} ± {h:.1f}" for m, h in cells)])
    majority = [100.0 * np.bincount(p.test_labels).max() / len(p.test_labels) for p in probes]
    rows.append(["majority class (chance)", *majority])
    seed_notes = [f"{row}: the mean over {len(members)} initialisations (± the 95 % t-interval of that mean); each seed: "
                  + "; ".join(f"{PROBE_TITLES.get(n, n).split(' (')[0]} "
                              + " / ".join(f"{results[m][n]:.1f}" for m in members) for n in names) + "."
                  for row, members in seed_rows.items()]
    write_table(
        "table7_linear_probe", f"Table VII analog: linear probes on frozen features ({profile} profile), accuracy %",
        ["features", *(PROBE_TITLES.get(n, n) for n in names)], rows,
        notes=[*(f"{PROBE_TITLES.get(p.name, p.name)}: {p.note}; {len(p.train_labels)} train / {len(p.test_labels)} test "
                 f"clips, {len(p.classes)} classes." for p in probes),
               "± is the half-width of a 95 % interval: for a single model, the binomial interval of its accuracy on "
               "the test clips; for a row over seeds, the t-interval of the mean over the seeds.",
               *seed_notes,
               "Features are pooled over time only: AudioMAE's S keeps its frequency rows (8 x C_s), the log-mel its 128 "
               "bins (pooling S over frequency too loses where in the spectrum a sound is: hsm_lib.eval.probes.time_pooled). "
               "The classifier is a standardised multinomial logistic regression (C = 1) fit on the probe's train split.",
               "Substitution: the paper probes HEAR's ESC-50, Speech Commands 5h and NSynth pitch 5h with AudioMAE "
               "pretrained on AudioSet-2M; these probes are offline analogs on this project's data. The paper's numbers "
               "(HEAR): AudioMAE-B 57.6 / 33.9 / 61.4, its AudioMAE 83.7 / 77.1 / 66.0; data and scale differ.",
               *notes],
        data={"profile": profile, "probes": [p.summary() for p in probes], "accuracy": results, "ci95": cis,
              "seed_rows": seed_rows, "paper": PAPER_TABLE7},
    )
