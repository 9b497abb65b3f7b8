"""Recordings from the GCompris educational suite (Debian package ``gcompris-qt-data``).

GCompris ships ~136 short real sound clips (instruments, farm animals, world music, and
everyday sound effects) inside Qt resource archives ``/usr/share/gcompris-qt/rcc/*.rcc``.
:func:`scan_gcompris` lists them (via :mod:`hsm_lib.data.rcc`), decodes each once to get
its duration and a content hash, and returns one :class:`Recording` per clip whose
``load`` re-reads and decodes the clip on demand.

What is kept: decodable ``.ogg``/``.wav``/``.mp3`` files that are not speech (archives or
folders named ``voices*`` hold spoken letters/words/numbers and are skipped) and not
silence (``morse_code/resource/silence.wav`` is a 0.5 s pause).

Labels are derived from file names (see :func:`label_for`), with a short table of curated
labels where the name is cryptic; ``extra["label_source"]`` says which applied.

Licences, most specific claim first (every claim found is kept in
``extra["license_claims"]``; they disagree for ``traffic/resource/car.wav``):

1. a paragraph of the Debian ``copyright`` file whose pattern names the file (an exact
   path or a file-name glob such as ``*_LA.ogg``);
2. a README inside the archive, in the file's folder or above it, naming the file;
3. a Debian paragraph covering the file's whole folder (``.../resource/*``);
4. the Debian ``Files: *`` licence, marked ``"(package default)"``.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from hsm_lib.data.bank import content_hash
from hsm_lib.data.rcc import RccFileLoader, iter_rcc
from hsm_lib.data.records import Recording

log = logging.getLogger(__name__)

DEFAULT_ROOT = "/usr/share/gcompris-qt/rcc"
DEFAULT_COPYRIGHT = "/usr/share/doc/gcompris-qt-data/copyright"
AUDIO_EXTS = (".ogg", ".wav", ".mp3")
SILENCE_PEAK = 1e-3  # peak |x| below -60 dBFS counts as silence (silence.wav is +-6 LSB dither)

__all__ = ["scan_gcompris", "label_for", "decode_audio", "content_hash"]


# --------------------------------------------------------------------------- audio


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an encoded file to ``(samples[T] float32 mono, sample_rate)``.

    Channels are averaged. Raises whatever ``soundfile`` raises on undecodable data.
    """
    import soundfile as sf  # imported lazily: the rcc reader itself needs no audio stack

    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.mean(axis=1, dtype=np.float32)), int(sr)


@dataclass(frozen=True)
class GcomprisAudioLoader:
    """Lazy, picklable loader: reads one archive entry and decodes it on each call."""

    raw: RccFileLoader

    def __call__(self) -> tuple[np.ndarray, int]:
        return decode_audio(self.raw())


# --------------------------------------------------------------------------- labels

# Curated labels where the file name says little or nothing acoustic. Keys are the
# inner path with the leading "/gcompris/src/activities/" removed.
_CURATED_LABELS: dict[str, tuple[str, str]] = {
    # chronos "Moonwalker" story: sound N goes with pictures 1 (lift-off), 2 and 4
    # (flight in space) and 3 (astronaut on the moon); the clips are low rumbles.
    "chronos/resource/sound/1.ogg": ("rocket launch", "chronos board1_0.qml + pictures"),
    "chronos/resource/sound/2.ogg": ("rocket in space", "chronos board1_0.qml + pictures"),
    "chronos/resource/sound/3.ogg": ("moon landing", "chronos board1_0.qml + pictures"),
    # ballcatch.qml: winSound / looseSound.
    "ballcatch/resource/tuxok.wav": ("win sound", "Ballcatch.qml winSound"),
    "ballcatch/resource/youcannot.wav": ("lose sound", "Ballcatch.qml looseSound"),
    # Watercycle.qml plays apert.wav when Tux's shower is switched on.
    "watercycle/resource/apert.wav": ("shower", "Watercycle.qml shower.start()"),
    # Mining.qml plays it when a gold nugget sparkles into view.
    "mining/resource/realrainbow.wav": ("sparkle", "Mining.qml: new gold nugget appears"),
    "morse_code/resource/dot.wav": ("morse code dot", "activity name"),
    "morse_code/resource/dash.wav": ("morse code dash", "activity name"),
    # The world-music clips are named after regions; the music/README sources say what
    # they are.
    "explore_world_music/resource/music/africa.ogg": ("djembe drums", "music/README: Djembe_accompaniment.ogg"),
    "explore_world_music/resource/music/america.ogg": ("rock and roll music", "music/README: 08-rock-n-roll.ogg"),
    "explore_world_music/resource/music/australia.ogg": ("didgeridoo", "music/README: didgeridoorelax"),
    "explore_world_music/resource/music/ireland.ogg": ("irish fiddle tune", "music/README: The_Wind_that_Shakes_the_Barley.ogg"),
    "explore_world_music/resource/music/italy.ogg": ("opera singing", "music/README: Caruso, Ombra mai fu"),
    "explore_world_music/resource/music/japan.ogg": ("taiko drums", "music/README: Taiko2_(short).oga"),
    "explore_world_music/resource/music/mexico.ogg": ("mariachi music", "music/README: Mariachi Mexico de Pepe Villa"),
    "explore_world_music/resource/music/middleeast.ogg": ("turkish song", "music/README: Safiye Ayla"),
    "explore_world_music/resource/music/beethoven.ogg": ("orchestra symphony", "music/README: Sym_9_Second_Movement.ogg"),
}
_CURATED_CORE_LABELS: dict[str, tuple[str, str]] = {
    "/gcompris/src/core/resource/intro.ogg": ("intro music", "GCompris intro theme (Debian copyright)"),
}

# Word-level fixes applied after splitting a file name into words. None drops the word.
_WORD_FIXES: dict[str, str | None] = {
    "xylofon": "xylophone",
    "son": None,  # French "sound": guitar_son1, xylofon_son2
    "traversiere": None,  # flute_traversiere = transverse flute
    "applauses": "applause",
    "completetask": "complete task",
    "audioclick": "audio click",
    "realrainbow": "real rainbow",
}

# memory-sound clips by Lionel Allorge carry affixes around the description:
# "LR<Description>[_]LA[_cut|Cut]" or "LR<Description>_short".
_ALLORGE_RE = re.compile(r"LR([A-Z].*?)(?:_?LA)?(?:_cut|Cut|_short)?")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _activity_key(inner_path: str) -> str:
    return inner_path.split("/src/activities/", 1)[-1]


def label_for(inner_path: str) -> tuple[str, str]:
    """Short lower-case label for a sound file, and where it came from.

    Returns ``(label, source)``; ``source`` is ``"file name"``, ``"folder name"`` or
    ``"curated: <evidence>"``. E.g. ``".../LRRain_in_garden_01_LA_cut.ogg"`` ->
    ``("rain in garden", "file name")``.
    """
    key = _activity_key(inner_path)
    for table, k in ((_CURATED_LABELS, key), (_CURATED_CORE_LABELS, inner_path)):
        if k in table:
            label, why = table[k]
            return label, f"curated: {why}"
    stem = PurePosixPath(inner_path).stem
    words = _words(stem)
    if words:
        return " ".join(words), "file name"
    # A name of only digits: fall back to the nearest informative folder.
    generic = {"resource", "resources", "sound", "sounds", "music", "audio", "src", "activities", "gcompris"}
    for part in reversed(PurePosixPath(inner_path).parent.parts):
        words = _words(part) if part not in generic else []
        if words:
            return " ".join(words), "folder name"
    return stem.lower(), "file name"


def _words(name: str) -> list[str]:
    m = _ALLORGE_RE.fullmatch(name)
    if m:
        name = m.group(1)
    name = _CAMEL_RE.sub(" ", name)
    raw = re.split(r"[\s_\-.]+", re.sub(r"\d+", " ", name).lower())
    out: list[str] = []
    for w in raw:
        if not w:
            continue
        fixed = _WORD_FIXES.get(w, w)
        if fixed:
            out.extend(fixed.split())
    return out


def _is_speech(archive: Path, inner_path: str) -> bool:
    """Spoken-word material (GCompris "voices" packs), which this corpus leaves out."""
    parts = [archive.stem, *PurePosixPath(inner_path).parts]
    return any(p.lower().startswith("voices") or p.lower() == "voice" for p in parts)


# --------------------------------------------------------------------------- licences


@dataclass(frozen=True)
class _Dep5Paragraph:
    patterns: tuple[str, ...]
    license: str


def _parse_dep5(text: str) -> list[_Dep5Paragraph]:
    """The ``Files:`` paragraphs of a machine-readable Debian copyright file."""
    out: list[_Dep5Paragraph] = []
    for para in re.split(r"\n[ \t]*\n", text):
        if not para.startswith("Files:"):
            continue
        fields: dict[str, str] = {}
        current = ""
        for line in para.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m and not line[0].isspace():
                current = m.group(1)
                fields[current] = m.group(2)
            elif current:
                fields[current] += "\n" + line.strip()
        lic = fields.get("License", "").split("\n", 1)[0].strip()
        if lic:
            out.append(_Dep5Paragraph(tuple(fields["Files"].split()), lic))
    return out


def _norm_path(p: str) -> str:
    # Debian names e.g. "align4-2players" where the archive has "align4_2players".
    return p.replace("-", "_")


def _debian_license(paras: list[_Dep5Paragraph], src_path: str) -> tuple[str, str, str] | None:
    """``(license, pattern, level)`` of the last matching paragraph (DEP-5: last wins).

    ``level`` is ``"file"`` (pattern names the file or globs file names), ``"folder"``
    (``dir/*``) or ``"default"`` (bare ``*``).
    """
    target = _norm_path(src_path)
    hit: tuple[str, str] | None = None
    for para in paras:
        for pat in para.patterns:
            if fnmatch.fnmatchcase(target, _norm_path(pat)):
                hit = (para.license, pat)
    if hit is None:
        return None
    lic, pat = hit
    level = "default" if pat == "*" else ("folder" if pat.endswith("/*") else "file")
    return lic, pat, level


# Licence phrases in upstream READMEs -> SPDX-style names as Debian writes them.
# Order matters: longer phrases first; each match is consumed.
_LICENSE_PHRASES: tuple[tuple[str, str], ...] = (
    (r"CC-?0 Public Domain", "CC0-1.0"),
    (r"Creative Commons 0 License", "CC0-1.0"),
    (r"CC0(?:[- ]1\.0)?", "CC0-1.0"),
    (r"Creative Commons Sampling Plus 1\.0", "CC-sampling-plus-1.0"),
    # Freesound's "Attribution" licence was CC BY 3.0 when these were fetched (2014-17);
    # Debian's copyright maps them the same way.
    (r"Attribution License", "CC-BY-3.0"),
    (r"CC[- ]BY[- ]SA[- ]?(\d\.\d)", "CC-BY-SA-{0}"),
    (r"CC[- ]BY[- ]NC[- ]?(\d\.\d)", "CC-BY-NC-{0}"),
    (r"CC[- ]BY[- ]?(\d\.\d)", "CC-BY-{0}"),
    (r"Free Art License", "free-art"),
    (r"Apache License 2\.0", "Apache-2.0"),
    (r"GPL ?v?3\+", "GPL-3+"),
    (r"GPL ?v?3|GPL-3(?:\.0)?", "GPL-3"),
    (r"\bGPL\b", "GPL"),
    (r"Public Domain", "public-domain"),
)


def _licenses_in(text: str) -> list[str]:
    found: list[str] = []
    for pat, name in _LICENSE_PHRASES:
        def take(m: re.Match[str]) -> str:
            found.append(name.format(*m.groups()))
            return " "
        text = re.sub(pat, take, text, flags=re.IGNORECASE)
    return list(dict.fromkeys(found))


def _parse_readme(text: str) -> dict[str, str]:
    """File name -> licence from an upstream GCompris README.

    Two layouts occur: DEP-5-like blocks (``Copyright:/License:/Files:`` then one name
    per line), and freesound credits (``name.wav: <url>`` then indented lines such as
    ``This work is licensed under the Attribution License.``).
    """
    out: dict[str, str] = {}
    for block in re.split(r"\n[ \t]*\n", text):
        m_lic = re.search(r"^License:\s*(.+)$", block, re.MULTILINE)
        m_files = re.search(r"^Files:[ \t]*(.*(?:\n(?![A-Za-z-]+:).*)*)", block, re.MULTILINE)
        if m_lic and m_files:
            names = _licenses_in(m_lic.group(1))
            lic = " and ".join(names) if names else m_lic.group(1).strip()
            for name in m_files.group(1).split():
                out.setdefault(name, lic)
    # Freesound style: an entry is a line starting with an audio file name plus the
    # indented lines after it.
    entry_re = re.compile(r"^(\S+\.(?:wav|ogg|mp3))\b[^\n]*(?:\n[ \t]+[^\n]*)*", re.MULTILINE | re.IGNORECASE)
    for m in entry_re.finditer(text):
        names = _licenses_in(m.group(0))
        if names:
            out.setdefault(m.group(1), " and ".join(names))
    return out


def _archive_readmes(entries: dict[str, RccFileLoader]) -> dict[str, dict[str, str]]:
    """Folder (inner path) -> {file name: licence} for every README in an archive."""
    out: dict[str, dict[str, str]] = {}
    for path, loader in entries.items():
        if PurePosixPath(path).name.upper().startswith("README"):
            try:
                text = loader().decode("utf-8", "replace")
            except Exception as e:  # a bad README only costs attribution
                log.warning("gcompris: cannot read %s: %s", path, e)
                continue
            out[str(PurePosixPath(path).parent)] = _parse_readme(text)
    return out


def _readme_license(readmes: dict[str, dict[str, str]], inner_path: str) -> tuple[str, str] | None:
    """``(license, readme folder)`` from the nearest README at or above the file's folder."""
    p = PurePosixPath(inner_path)
    for folder in [p.parent, *p.parent.parents]:
        table = readmes.get(str(folder))
        if table and p.name in table:
            return table[p.name], f"{folder}/README"
    return None


def _folder_licence_files(entries: dict[str, RccFileLoader]) -> dict[str, str]:
    """Folder -> name of a stand-alone licence text in it (e.g. memory-sound/Licence.txt)."""
    out: dict[str, str] = {}
    for path in entries:
        name = PurePosixPath(path).name
        if re.match(r"(?i)^(licen[cs]e|copying)(\.txt)?$", name):
            out[str(PurePosixPath(path).parent)] = name
    return out


def _src_path(inner_path: str) -> str:
    """Archive path -> path in the upstream source tree, as Debian's copyright uses."""
    i = inner_path.find("/src/")
    return inner_path[i + 1 :] if i >= 0 else inner_path.lstrip("/")


# --------------------------------------------------------------------------- scan


def scan_gcompris(
    root: str | Path = DEFAULT_ROOT, copyright_file: str | Path = DEFAULT_COPYRIGHT
) -> list[Recording]:
    """One :class:`Recording` per non-speech, non-silent sound clip in GCompris's archives.

    ``root``: folder of ``*.rcc`` archives. Returns ``[]`` (with a warning) if it does not
    exist. Each clip is decoded once here (duration, content hash) and again on every
    ``load()`` call; no audio is kept in memory. Clips with identical audio (same
    ``content_hash``) are all returned; later copies carry ``extra["duplicate_of"]``.
    Ordered by archive name, then inner path.
    """
    t0 = time.perf_counter()
    root = Path(root)
    if not root.is_dir():
        log.warning("gcompris: %s not found (install gcompris-qt-data); no GCompris recordings", root)
        return []
    paras: list[_Dep5Paragraph] = []
    if Path(copyright_file).is_file():
        paras = _parse_dep5(Path(copyright_file).read_text(encoding="utf-8", errors="replace"))
    else:
        log.warning("gcompris: %s not found; licences will be unknown", copyright_file)
    default = _debian_license(paras, "any/file")
    default_license = f"{default[0]} (package default)" if default else "unknown"

    recordings: list[Recording] = []
    first_by_hash: dict[str, str] = {}
    for archive in sorted(root.glob("*.rcc")):
        try:
            entries = dict(iter_rcc(archive))
        except (ValueError, OSError) as e:
            log.warning("gcompris: skipping %s: %s", archive, e)
            continue
        audio = sorted(p for p in entries if p.lower().endswith(AUDIO_EXTS))
        if not audio:
            continue  # most archives are images and QML only
        readmes = _archive_readmes(entries)
        licence_files = _folder_licence_files(entries)
        for inner in audio:
            if _is_speech(archive, inner):
                continue
            rec = _make_recording(archive, inner, entries[inner], paras, default_license, readmes, licence_files)
            if rec is None:
                continue
            dup = first_by_hash.setdefault(rec.content_hash, rec.id)
            if dup != rec.id:
                rec.extra["duplicate_of"] = dup
            recordings.append(rec)
    log.info("gcompris: %d recordings from %s in %.2f s", len(recordings), root, time.perf_counter() - t0)
    return recordings


def _make_recording(
    archive: Path,
    inner: str,
    raw: RccFileLoader,
    paras: list[_Dep5Paragraph],
    default_license: str,
    readmes: dict[str, dict[str, str]],
    licence_files: dict[str, str],
) -> Recording | None:
    """Decode once for metadata; None (with a warning) if undecodable or silent."""
    loader = GcomprisAudioLoader(raw)
    try:
        x, sr = loader()
    except Exception as e:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
        log.warning("gcompris: skipping undecodable %s!%s: %s", archive, inner, e)
        return None
    if x.size == 0 or float(np.max(np.abs(x))) < SILENCE_PEAK:
        log.warning("gcompris: skipping silent %s!%s", archive, inner)
        return None
    label, label_source = label_for(inner)
    license, claims, license_source = _resolve_license(inner, paras, default_license, readmes)
    extra: dict[str, object] = {
        "archive": archive.name,
        "inner_path": inner,
        "sample_rate": sr,
        "label_source": label_source,
        "license_source": license_source,
        "license_claims": claims,
    }
    folder = str(PurePosixPath(inner).parent)
    if folder in licence_files and license_source == "package default":
        extra["license_note"] = f"folder also ships {licence_files[folder]}, not attributed per file"
    return Recording(
        id=f"gcompris:{archive.name}{inner}",
        source="gcompris",
        original_file=f"{archive}!{inner}",
        license=license,
        label=label,
        family="gcompris",
        duration=float(x.size) / sr,
        content_hash=content_hash(x),
        extra=extra,
        load=loader,
    )


def _resolve_license(
    inner: str,
    paras: list[_Dep5Paragraph],
    default_license: str,
    readmes: dict[str, dict[str, str]],
) -> tuple[str, list[str], str]:
    """``(license, all claims as "source: licence", source of the chosen one)``."""
    deb = _debian_license(paras, _src_path(inner))
    readme = _readme_license(readmes, inner)
    claims: list[str] = []
    if deb and deb[2] != "default":
        claims.append(f"debian copyright [{deb[1]}]: {deb[0]}")
    if readme:
        claims.append(f"archive {readme[1]}: {readme[0]}")
    if deb and deb[2] == "file":
        return deb[0], claims, f"debian copyright [{deb[1]}]"
    if readme:
        return readme[0], claims, f"archive {readme[1]}"
    if deb and deb[2] == "folder":
        return deb[0], claims, f"debian copyright [{deb[1]}]"
    return default_license, claims, "package default"
