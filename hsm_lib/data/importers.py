"""Importers for the paper's corpora, read from their published metadata layouts.

For users who have AudioCaps, Clotho v2, FSD50K, ESC-50, WavCaps or MUSIC on disk. Every
importer has the signature ``(metadata, audio_root, **options) -> list[Recording]``:

* ``metadata`` is a metadata file, a list of them, or the folder they ship in (the
  standard file names are then looked up inside, e.g. ``audiocaps/dataset`` or
  ``FSD50K.ground_truth``);
* ``audio_root`` is the folder holding the audio; the usual sub-folders (per split, per
  class, per WavCaps subset) are searched too.

Records get ``id = "<corpus>:<stem or id>"``, ``source = family = <corpus>``, the corpus
license, ``label`` (class labels joined with ", ", or "" for captioned corpora), the
metadata duration (else 0.0), ``tags = ()`` and ``extra = {"captions": [...],
"corpus_split": "train" | "val" | "test", ...}``. ``load`` reads the file lazily as mono
float32.

Errors are loud: a missing metadata file raises :class:`FileNotFoundError` and a metadata
file without a required column or key raises :class:`ValueError`, both naming the file.
Records whose audio file is absent are skipped with one :class:`MissingAudioWarning` per
import (count and an example path).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import inspect
import io
import json
import logging
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union


from hsm_lib.audio import read_mono
from hsm_lib.data.records import Recording

__all__ = [
    "CORPORA",
    "IMPORTERS",
    "LICENSES",
    "MUSIC11_CLASSES",
    "MissingAudioWarning",
    "find_missing",
    "import_audiocaps",
    "import_clotho",
    "import_corpus",
    "import_esc50",
    "import_fsd50k",
    "import_music",
    "import_wavcaps",
    "label_caption",
    "load_mono",
    "natural_label",
]

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
Metadata = Union[PathLike, Sequence[PathLike]]

LICENSES: dict[str, str] = {
    "audiocaps": "CC-BY 4.0 (captions); audio from YouTube",
    "clotho": "Freesound licenses per file (CC0/CC-BY/CC-BY-NC)",
    "fsd50k": "Freesound licenses per file, see FSD50K.metadata",
    "esc50": "CC-BY-NC 3.0 (per clip in meta)",
    "wavcaps": "per source, academic use",
    "music": "YouTube (research use)",
}
CORPORA: tuple[str, ...] = tuple(LICENSES)

MUSIC11_CLASSES: tuple[str, ...] = (
    "accordion", "acoustic guitar", "cello", "clarinet", "erhu", "flute",
    "saxophone", "trumpet", "tuba", "violin", "xylophone",
)

# WavCaps JSON file-name prefix -> subset (also the audio folder name, optionally "_flac").
WAVCAPS_SUBSETS: dict[str, str] = {
    "as": "AudioSet_SL", "bbc": "BBC_Sound_Effects", "fsd": "FreeSound", "sb": "SoundBible",
}
_WAVCAPS_LONG_DROPPED = ("SoundBible", "BBC_Sound_Effects")  # the paper drops these if > 60 s
_WAVCAPS_AUDIO_KEYS = ("audio", "wav_path", "file_name")  # per-subset keys naming the audio
_AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg")


class MissingAudioWarning(UserWarning):
    """Some records were skipped because their audio file is not under ``audio_root``."""


# --------------------------------------------------------------------------- text helpers


def natural_label(label: str) -> str:
    """``"Domestic_animals_and_pets"`` -> ``"Domestic animals and pets"`` (case kept)."""
    return " ".join(label.replace("_", " ").split())


def label_caption(label: str) -> str:
    """Caption for a labelled clip: ``"the sound of " + natural label`` in lower case."""
    return "the sound of " + natural_label(label).lower()


def _tokens(path: Path) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", path.stem.lower()) if t]


def _split_of(path: Path, corpus: str, names: Mapping[str, str]) -> tuple[str, str]:
    """Find which split a metadata file holds from its name: ``(name token, split)``."""
    for token in _tokens(path):
        if token in names:
            return token, names[token]
    raise ValueError(f"{corpus}: cannot tell which split {path} holds; its name should contain one of {sorted(names)}")


def _strip_audio_ext(name: str) -> str:
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in _AUDIO_EXTS else name


def _candidates(folders: Iterable[str], stems: Iterable[str], exts: Iterable[str] = ("",)) -> list[str]:
    """Relative audio paths to try, in preference order: folder x stem x extension."""
    stems, exts = list(dict.fromkeys(stems)), list(exts)
    return [os.path.join(d, s + e) for d in dict.fromkeys(folders) for s in stems for e in exts]


# ------------------------------------------------------------------------ metadata files


@dataclass(frozen=True)
class _Layout:
    """Metadata files expected inside a corpus' metadata folder.

    Each entry lists alternative relative paths (the first that exists wins). With
    ``need_all=False`` any non-empty subset of the entries will do (WavCaps).
    """

    files: tuple[tuple[str, ...], ...]
    need_all: bool = True


def _nested(*names: str, under: str) -> tuple[tuple[str, ...], ...]:
    return tuple((n, f"{under}/{n}") for n in names)


_LAYOUTS: dict[str, _Layout] = {
    "audiocaps": _Layout(_nested("train.csv", "val.csv", "test.csv", under="dataset")),
    "clotho": _Layout(tuple((f"clotho_captions_{s}.csv",) for s in ("development", "validation", "evaluation"))),
    "fsd50k": _Layout(_nested("dev.csv", "eval.csv", "vocabulary.csv", under="FSD50K.ground_truth")),
    "esc50": _Layout(_nested("esc50.csv", under="meta")),
    "wavcaps": _Layout(
        tuple((f"{p}_final.json", f"{s}/{p}_final.json", f"json_files/{s}/{p}_final.json")
              for p, s in WAVCAPS_SUBSETS.items()),
        need_all=False,
    ),
    "music": _Layout((("MUSIC_solo_videos.json", "MUSIC21_solo_videos.json"),)),
}


def _as_list(metadata: Metadata) -> list[Path]:
    items = [metadata] if isinstance(metadata, (str, os.PathLike)) else list(metadata)
    return [Path(p) for p in items]


def _expected_files(corpus: str, metadata: Metadata) -> list[Path]:
    """The metadata files an importer will read (folders expanded); they may not exist."""
    layout, files = _LAYOUTS[corpus], []
    for item in _as_list(metadata):
        if not item.is_dir():
            files.append(item)
            continue
        found = [next((item / a for a in alts if (item / a).is_file()), item / alts[0]) for alts in layout.files]
        files += found if layout.need_all else ([p for p in found if p.is_file()] or found)
    return files


def _metadata_files(corpus: str, metadata: Metadata) -> list[Path]:
    """Like :func:`_expected_files` but raises ``FileNotFoundError`` for an absent file."""
    files = _expected_files(corpus, metadata)
    for path in files:
        if not path.is_file():
            expected = ", ".join(alts[0] for alts in _LAYOUTS[corpus].files)
            raise FileNotFoundError(
                f"{corpus}: metadata file {path} not found (the {corpus} importer reads {expected}, "
                f"given as files or as the folder holding them)"
            )
    return files


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:  # a few older corpus releases are Latin-1
        return data.decode("latin-1")


def _read_csv(
    path: Path, corpus: str, required: Sequence[str], header: Sequence[str] | None = None
) -> list[dict[str, str]]:
    """Rows of a CSV as dicts (values stripped); ``ValueError`` names a missing column.

    ``header`` gives the column names of a header-less file.
    """
    reader = csv.DictReader(io.StringIO(_read_text(path)), fieldnames=header)
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    for col in required:
        if col not in columns:
            raise ValueError(f"{corpus}: {path} has no column {col!r} (columns: {columns})")
    rows = []
    for row in reader:
        for col in required:
            if row.get(col) is None:
                raise ValueError(f"{corpus}: {path} line {reader.line_num} has no value for column {col!r}")
        rows.append({k: v.strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str)})
    return rows


def _read_json(path: Path, corpus: str, key: str) -> Any:
    """``json[key]`` of a JSON object file; ``ValueError`` if malformed or the key is absent."""
    try:
        obj = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{corpus}: {path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"{corpus}: {path} has no top-level key {key!r}")
    return obj[key]


def _number(value: Any, path: Path, corpus: str, column: str, kind: type = float) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{corpus}: {path} column {column!r} has a non-numeric value {value!r}") from None


# ------------------------------------------------------------------------- audio + build


# Kept under this name for the importers' public API; the one reader lives in hsm_lib.audio.
load_mono = read_mono


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


class _AudioIndex:
    """Existence checks against cached folder listings (one ``listdir`` per folder).

    Names are compared in Unicode NFC, so archives unpacked on macOS (NFD names) still match.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listings: dict[Path, dict[str, str]] = {}

    def _names(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                self._listings[folder] = {_nfc(n): n for n in os.listdir(folder)}
            except OSError:
                self._listings[folder] = {}
        return self._listings[folder]

    def find(self, candidates: Sequence[str]) -> Path | None:
        for rel in candidates:
            path = self.root / rel
            name = self._names(path.parent).get(_nfc(path.name))
            if name is not None:
                return path.parent / name
        return None


@dataclass
class _Entry:
    """One parsed metadata record, before its audio file is located."""

    key: str  # id without the corpus prefix
    candidates: list[str]  # audio paths relative to audio_root (or absolute), preferred first
    split: str
    label: str = ""
    captions: list[str] = field(default_factory=list)
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _build(corpus: str, audio_root: PathLike, entries: Iterable[_Entry]) -> list[Recording]:
    """Locate each entry's audio and make records; warn once about skipped entries."""
    root = Path(audio_root)
    if not root.is_dir():
        raise FileNotFoundError(f"{corpus}: audio folder {root} not found")
    index = _AudioIndex(root)
    records: list[Recording] = []
    missing: list[Path] = []
    seen: set[str] = set()
    duplicates = 0
    for e in entries:
        if e.key in seen:
            duplicates += 1
            continue
        seen.add(e.key)
        path = index.find(e.candidates)
        if path is None:
            missing.append(root / e.candidates[0])
            continue
        captions = e.captions or ([label_caption(e.label)] if e.label else [])
        records.append(Recording(
            id=f"{corpus}:{e.key}", source=corpus, family=corpus, original_file=str(path),
            license=LICENSES[corpus], label=e.label, duration=e.duration,
            extra={"captions": captions, "corpus_split": e.split, **e.extra},
            load=functools.partial(load_mono, str(path)),
        ))
    if missing:
        warnings.warn(
            f"{corpus}: skipped {len(missing)} of {len(seen)} records whose audio file is missing "
            f"under {root} (e.g. {missing[0]})", MissingAudioWarning, stacklevel=3,
        )
    if duplicates:
        warnings.warn(f"{corpus}: ignored {duplicates} repeated record ids (first occurrence kept)", stacklevel=3)
    return records


# ------------------------------------------------------------------------------ importers


def import_audiocaps(metadata: Metadata, audio_root: PathLike) -> list[Recording]:
    """AudioCaps ``dataset/{train,val,test}.csv`` (``audiocap_id,youtube_id,start_time,caption``).

    Rows of one YouTube id within a split become one record with all its captions. Audio
    is ``{ytid}.wav``, ``Y{ytid}.wav`` or ``{ytid}_{start_time}.wav`` (or ``.flac``),
    directly under ``audio_root`` or under ``audio_root/<split>``.
    """
    groups: dict[tuple[str, str], _Entry] = {}
    for path in _metadata_files("audiocaps", metadata):
        _, split = _split_of(path, "audiocaps", {"train": "train", "val": "val", "test": "test"})
        for row in _read_csv(path, "audiocaps", ("audiocap_id", "youtube_id", "start_time", "caption")):
            yt, start = row["youtube_id"], row["start_time"]
            entry = groups.get((split, yt))
            if entry is None:
                start_s = _number(start, path, "audiocaps", "start_time")
                stems = [yt, f"Y{yt}", f"{yt}_{start}", f"Y{yt}_{start}", f"{yt}_{start_s:g}", f"{yt}_{start_s:.3f}"]
                entry = groups[(split, yt)] = _Entry(
                    yt, _candidates(("", split), stems, (".wav", ".flac")), split,
                    extra={"youtube_id": yt, "start_time": start_s, "audiocap_ids": []},
                )
            entry.captions.append(row["caption"])
            entry.extra["audiocap_ids"].append(row["audiocap_id"])
    return _build("audiocaps", audio_root, groups.values())


def import_clotho(metadata: Metadata, audio_root: PathLike) -> list[Recording]:
    """Clotho v2 ``clotho_captions_{development,validation,evaluation}.csv``.

    Columns ``file_name,caption_1..caption_5``; development/validation/evaluation map to
    train/val/test. Audio is ``audio_root/<file_name>`` or ``audio_root/<development|...>/<file_name>``.
    """
    entries = []
    names = {"development": "train", "validation": "val", "evaluation": "test"}
    for path in _metadata_files("clotho", metadata):
        folder, split = _split_of(path, "clotho", names)
        for row in _read_csv(path, "clotho", ("file_name", "caption_1")):
            fname = row["file_name"]
            captions = [v for k, v in row.items() if k.startswith("caption_") and v]
            entries.append(_Entry(_strip_audio_ext(fname), _candidates(("", folder), [fname]), split, captions=captions))
    return _build("clotho", audio_root, entries)


def import_fsd50k(metadata: Metadata, audio_root: PathLike) -> list[Recording]:
    """FSD50K ``FSD50K.ground_truth/{dev,eval,vocabulary}.csv``.

    ``dev.csv`` (``fname,labels,mids,split``; split is train/val) and ``eval.csv``
    (``fname,labels,mids``; -> test). Labels must appear in the header-less
    ``vocabulary.csv`` (``index,label,mid``; read from the given files or beside them).
    Audio is ``audio_root/<fname>.wav`` or ``audio_root/FSD50K.{dev,eval}_audio/<fname>.wav``.
    """
    files = _metadata_files("fsd50k", metadata)
    vocab_path = next((p for p in files if p.name == "vocabulary.csv"), files[0].parent / "vocabulary.csv")
    _metadata_files("fsd50k", vocab_path)
    columns = ("index", "label", "mid")
    vocabulary = {r["label"] for r in _read_csv(vocab_path, "fsd50k", columns, header=columns)}
    entries = []
    for path in (p for p in files if p.name != "vocabulary.csv"):
        part, _ = _split_of(path, "fsd50k", {"dev": "dev", "eval": "test"})
        required = ("fname", "labels", "mids") + (("split",) if part == "dev" else ())
        for row in _read_csv(path, "fsd50k", required):
            split = row["split"] if part == "dev" else "test"
            if part == "dev" and split not in ("train", "val"):
                raise ValueError(f"fsd50k: {path} row {row['fname']!r} has split {split!r}, expected train or val")
            labels = [lab.strip() for lab in row["labels"].split(",") if lab.strip()]
            unknown = [lab for lab in labels if lab not in vocabulary]
            if unknown:
                raise ValueError(f"fsd50k: {path} row {row['fname']!r} has labels {unknown} not in {vocab_path}")
            entries.append(_Entry(
                row["fname"], _candidates(("", f"FSD50K.{part}_audio"), [row["fname"] + ".wav"]), split,
                label=", ".join(natural_label(lab) for lab in labels),
                extra={"mids": [m for m in row["mids"].split(",") if m]},
            ))
    return _build("fsd50k", audio_root, entries)


def import_esc50(
    metadata: Metadata, audio_root: PathLike, test_fold: int = 5, val_fold: int | None = None
) -> list[Recording]:
    """ESC-50 ``meta/esc50.csv`` (``filename,fold,target,category,esc10,src_file,take``).

    Clips of ``test_fold`` are test, of ``val_fold`` (if given) val, the rest train. Audio
    is ``audio_root/<filename>`` or ``audio_root/audio/<filename>`` (so ``audio_root`` may be
    the ESC-50 checkout itself).
    """
    if val_fold is not None and val_fold == test_fold:
        raise ValueError(f"esc50: val_fold and test_fold are both {test_fold}")
    entries = []
    for path in _metadata_files("esc50", metadata):
        for row in _read_csv(path, "esc50", ("filename", "fold", "target", "category", "esc10", "src_file", "take")):
            fold = _number(row["fold"], path, "esc50", "fold", int)
            split = "test" if fold == test_fold else "val" if fold == val_fold else "train"
            entries.append(_Entry(
                _strip_audio_ext(row["filename"]), _candidates(("", "audio"), [row["filename"]]), split,
                label=natural_label(row["category"]),
                extra={"fold": fold, "target": _number(row["target"], path, "esc50", "target", int),
                       "esc10": row["esc10"].lower() == "true", "src_file": row["src_file"], "take": row["take"]},
            ))
    return _build("esc50", audio_root, entries)


def _wavcaps_subset(path: Path) -> str:
    """WavCaps subset of a JSON file, from its name prefix (``as_final.json``) or folder."""
    prefix = _tokens(path)[:1]
    if prefix and prefix[0] in WAVCAPS_SUBSETS:
        return WAVCAPS_SUBSETS[prefix[0]]
    if path.parent.name in WAVCAPS_SUBSETS.values():
        return path.parent.name
    raise ValueError(
        f"wavcaps: cannot tell the subset of {path}; expected a name starting with one of {sorted(WAVCAPS_SUBSETS)}"
    )


def read_wavcaps_blacklists(paths: Iterable[PathLike]) -> dict[str, set[str]]:
    """WavCaps' published blacklists (``blacklist_exclude_test_ac.json``, ...: ``{"AudioSet":
    ["Y....wav", ...], "FreeSound": ["12345", ...]}``, the clips that overlap other corpora's
    test sets) -> subset name -> the excluded id stems. A key names the subset it starts
    ("AudioSet" -> AudioSet_SL); ``"Not found"`` placeholders are skipped."""
    excluded: dict[str, set[str]] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise ValueError(f"wavcaps: the blacklist {path} is missing (exclude_lists)")
        try:
            lists = json.loads(_read_text(path))
        except json.JSONDecodeError as e:
            raise ValueError(f"wavcaps: the blacklist {path} is not valid JSON ({e})") from None
        if not isinstance(lists, dict):
            raise ValueError(f"wavcaps: the blacklist {path} is not a JSON object of subset -> ids")
        for key, ids in lists.items():
            subset = next((s for s in WAVCAPS_SUBSETS.values() if s.lower().startswith(key.lower())), None)
            if subset is None or not isinstance(ids, list):
                raise ValueError(f"wavcaps: the blacklist {path} has key {key!r}, not a list of ids of one of the "
                                 f"subsets {sorted(WAVCAPS_SUBSETS.values())}")
            excluded.setdefault(subset, set()).update(
                _strip_audio_ext(os.path.basename(str(i))) for i in ids if str(i) != "Not found")
    return excluded


def import_wavcaps(
    metadata: Metadata,
    audio_root: PathLike,
    include_freesound: bool = False,
    max_duration: float | None = 60.0,
    exclude_ids: Iterable[str] = (),
    exclude_lists: Iterable[PathLike] = (),
) -> list[Recording]:
    """WavCaps JSON files (``as_final.json``, ``bbc_final.json``, ``fsd_final.json``, ``sb_final.json``).

    Each is ``{"num_captions_per_audio": 1, "data": [{"id", "caption", "duration", ...}]}``.
    Following the paper, the FreeSound subset is skipped unless ``include_freesound`` and
    SoundBible/BBC clips longer than ``max_duration`` seconds are dropped. ``exclude_ids``
    (raw ids or their stems, any subset) and ``exclude_lists`` (WavCaps' published blacklist
    files, per subset: :func:`read_wavcaps_blacklists`) remove clips that overlap the test sets. All
    records are ``train``; ids are ``wavcaps:<subset prefix>_<id stem>`` (subsets reuse ids).

    Audio: the entry's ``audio``/``wav_path``/``file_name`` value if it names a file (the
    published JSON holds a ``"wav_path"`` placeholder, which is ignored), else
    ``<id stem>.flac``/``.wav``, directly under ``audio_root`` or under
    ``<subset>``/``<subset>_flac`` (the folder names of the HuggingFace release).
    """
    excluded = set(exclude_ids)
    blacklisted = read_wavcaps_blacklists(exclude_lists)
    short = {v: k for k, v in WAVCAPS_SUBSETS.items()}
    entries, dropped = [], 0
    for path in _metadata_files("wavcaps", metadata):
        subset = _wavcaps_subset(path)
        if subset == "FreeSound" and not include_freesound:
            log.info("wavcaps: excluding the FreeSound subset %s", path)
            continue
        data = _read_json(path, "wavcaps", "data")
        if not isinstance(data, list):
            raise ValueError(f"wavcaps: {path} key 'data' is not a list")
        folders = ("", subset, f"{subset}_flac")
        for n, item in enumerate(data):
            for key in ("id", "caption"):
                if not isinstance(item, dict) or key not in item:
                    raise ValueError(f"wavcaps: {path} data[{n}] has no key {key!r}")
            raw_id = str(item["id"])
            stem = _strip_audio_ext(os.path.basename(raw_id))
            duration = _number(item.get("duration") or 0.0, path, "wavcaps", "duration")
            if raw_id in excluded or stem in excluded or stem in blacklisted.get(subset, ()):
                continue
            if max_duration is not None and subset in _WAVCAPS_LONG_DROPPED and duration > max_duration:
                dropped += 1
                continue
            named = [v for v in (item.get(k) for k in _WAVCAPS_AUDIO_KEYS)
                     if isinstance(v, str) and v and v not in _WAVCAPS_AUDIO_KEYS]  # skip "wav_path" placeholders
            candidates = named + _candidates(folders, [os.path.basename(v) for v in named])
            candidates += _candidates(folders, [stem], (".flac", ".wav"))
            entries.append(_Entry(
                f"{short[subset]}_{stem}", candidates, "train", captions=[str(item["caption"]).strip()],
                duration=duration, extra={"wavcaps_subset": subset, "wavcaps_id": raw_id},
            ))
    if dropped:
        log.info("wavcaps: dropped %d SoundBible/BBC clips longer than %s s", dropped, max_duration)
    return _build("wavcaps", audio_root, entries)


def _hash_split(key: str, val_fraction: float, test_fraction: float) -> str:
    """Deterministic split from a hash of ``key`` (independent of file order)."""
    u = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2**64
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def import_music(
    metadata: Metadata,
    audio_root: PathLike,
    classes: Iterable[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> list[Recording]:
    """MUSIC ``MUSIC_solo_videos.json`` / ``MUSIC21_solo_videos.json`` (``{"videos": {class: [ytid, ...]}}``).

    Label is the natural class name (``acoustic_guitar`` -> ``acoustic guitar``); duet files
    whose keys name two instruments (``"acoustic_guitar violin"``) give both, joined with
    ", ". ``classes`` (e.g. :data:`MUSIC11_CLASSES`) keeps only those instruments. MUSIC has
    no official split: each video goes to val/test with the given fractions by a hash of
    its id. Audio is ``audio_root/<class>/<ytid>.{wav,mp3,flac}`` (also ``solo/<class>``,
    ``duet/<class>`` or directly under ``audio_root``).
    """
    wanted = None if classes is None else {natural_label(c).lower() for c in classes}
    entries = []
    for path in _metadata_files("music", metadata):
        videos = _read_json(path, "music", "videos")
        if not isinstance(videos, dict):
            raise ValueError(f"music: {path} key 'videos' is not an object of class -> video ids")
        for cls, ids in videos.items():
            instruments = [natural_label(i) for i in cls.split()]
            if wanted is not None and not {i.lower() for i in instruments} <= wanted:
                continue
            if not isinstance(ids, list):
                raise ValueError(f"music: {path} class {cls!r} does not list video ids")
            for vid in ids:
                vid = str(vid).strip()
                entries.append(_Entry(
                    vid, _candidates((cls, f"solo/{cls}", f"duet/{cls}", ""), [vid], (".wav", ".mp3", ".flac")),
                    _hash_split(vid, val_fraction, test_fraction), label=", ".join(instruments),
                    extra={"youtube_id": vid, "instruments": instruments},
                ))
    return _build("music", audio_root, entries)


# ----------------------------------------------------------------------- dispatch + checks

IMPORTERS: dict[str, Callable[..., list[Recording]]] = {
    "audiocaps": import_audiocaps,
    "clotho": import_clotho,
    "fsd50k": import_fsd50k,
    "esc50": import_esc50,
    "wavcaps": import_wavcaps,
    "music": import_music,
}
_ALIASES = {"clothov2": "clotho", "music21": "music"}
# Importer options that are not paths (find_missing ignores them).
_OPTIONS = {p for f in IMPORTERS.values() for p in inspect.signature(f).parameters} - {"metadata", "audio_root"}


def _corpus_name(name: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    key = _ALIASES.get(key, key)
    return key if key in IMPORTERS else None


def import_corpus(name: str, **paths: Any) -> list[Recording]:
    """Run the importer of corpus ``name`` (case, ``-`` and ``_`` ignored: "ESC-50", "fsd50k").

    ``paths`` are the importer's keyword arguments: ``metadata=``, ``audio_root=`` and any
    options, e.g. ``import_corpus("esc50", metadata=..., audio_root=..., test_fold=1)``.
    """
    corpus = _corpus_name(name)
    if corpus is None:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(IMPORTERS)}")
    return IMPORTERS[corpus](**paths)


def _parse_key(key: str, corpus: str | None) -> tuple[str | None, str]:
    """``"fsd50k.audio_root"`` / ``"esc50_metadata"`` -> (corpus, kind); else (``corpus``, key)."""
    for sep in (".", "_"):
        head, _, tail = key.partition(sep)
        if tail and _corpus_name(head):
            return _corpus_name(head), tail
    return (_corpus_name(corpus) if corpus else None), key


def find_missing(paths: Mapping[str, Any], corpus: str | None = None) -> list[str]:
    """Describe, one line each, which metadata files and audio folders in ``paths`` are absent.

    Keys say what each path is: ``"metadata"`` / ``"audio_root"`` (the importer's argument
    names, with the corpus given by ``corpus``), or ``"<corpus>.metadata"`` /
    ``"<corpus>_audio_root"`` to check several corpora at once. A key containing "audio"
    must be a folder; any other is metadata (a file, a list of files, or a metadata folder,
    whose standard files are checked when the corpus is known). Non-path options (e.g.
    ``test_fold``) are ignored. An empty list means everything is there.
    """
    problems = []
    for key, value in paths.items():
        name, kind = _parse_key(key, corpus)
        who = name or "corpus"
        if kind in _OPTIONS or not isinstance(value, (str, os.PathLike, list, tuple)):
            continue
        if "audio" in kind:
            if not Path(value).is_dir():
                problems.append(f"{who} audio folder is missing: {value} ({key})")
            continue
        for item in _as_list(value):
            if not item.exists():
                problems.append(f"{who} metadata is missing: {item} ({key})")
            elif item.is_dir() and name:
                absent = [p for p in _expected_files(name, item) if not p.is_file()]
                problems += [f"{who} metadata file is missing: {p} ({key})" for p in absent]
    return problems
