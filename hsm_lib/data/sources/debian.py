"""Scanners for the real recordings that Debian packages ship (see shared/DATA.md).

Each scanner walks one package's files and returns :class:`Recording` records with a lazy
loader; nothing is decoded until the corpus builder asks. A package that is not installed
gives an empty list and a warning, so the corpus is built from whatever is available.
"""

from __future__ import annotations

import functools
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import soundfile as sf

from hsm_lib.audio import read_mono
from hsm_lib.data.records import Recording
from hsm_lib.data.taxonomy import normalise_label

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aif", ".aiff"}

HYDROGEN_ROOT = Path("/usr/share/hydrogen/data/drumkits")
WESNOTH_ROOT = Path("/usr/share/games/wesnoth/1.16/data/core/sounds")
LMMS_ROOT = Path("/usr/share/lmms/samples")
ASTERISK_ROOT = Path("/usr/share/asterisk/sounds/en_US_f_Allison")

# LMMS folders that hold sounds (its "shapes" and "waveforms" are single-cycle oscillator
# tables and "drumsynth" holds synthesiser presets, not audio).
LMMS_SOUND_FOLDERS = ("basses", "bassloops", "beats", "drums", "effects", "instruments", "latin", "misc", "stringsnpads")


def _probe(path: Path) -> float | None:
    """Duration in seconds, or None (with a warning) for a file soundfile cannot read."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for malformed files
        log.warning("skipping unreadable audio file %s (%s)", path, exc)
        return None
    if info.frames == 0:
        log.warning("skipping empty audio file %s", path)
        return None
    return info.frames / info.samplerate


def package_missing(root: Path, package: str) -> bool:
    if root.is_dir():
        return False
    log.warning("%s not found: install the Debian package '%s' to use this source", root, package)
    return True


def _record(path: Path, *, source: str, family: str, root: Path, label: str, license: str, **extra) -> Recording | None:
    duration = _probe(path)
    if duration is None:
        return None
    rel = path.relative_to(root).as_posix()
    return Recording(
        id=f"{source}:{rel}",
        source=source,
        family=family,
        original_file=str(path),
        license=license,
        label=label,
        duration=duration,
        extra=dict(extra),
        load=functools.partial(read_mono, str(path)),
    )


def named_by_file(files: list[Path], *, root: Path, source: str, family: str, license: str, **extra) -> list[Recording]:
    """Records of ``files`` in order, each labelled by its normalised file name; unreadable ones skipped."""
    recs = (_record(path, source=source, family=family, root=root, label=normalise_label(path.stem),
                    license=license, **extra) for path in files)
    return [rec for rec in recs if rec]


# --- hydrogen-drumkits -------------------------------------------------------------------


def _kit_license(kit: ET.Element) -> str:
    text = (kit.findtext("license") or "").strip()
    return text or "GPL-2+/CC (per kit; see /usr/share/doc/hydrogen-drumkits/copyright)"


def scan_hydrogen(root: Path | None = None) -> list[Recording]:
    """Drum hits from the Hydrogen kits. Label: the kit's instrument name (+ file name)."""
    root = Path(root) if root is not None else HYDROGEN_ROOT
    if package_missing(root, "hydrogen-drumkits"):
        return []
    out: list[Recording] = []
    for xml_path in sorted(root.glob("*/drumkit.xml")):
        kit_dir = xml_path.parent
        kit = ET.parse(xml_path).getroot()
        # Hydrogen's newer kits use an XML namespace; strip it so findtext works on both.
        for el in kit.iter():
            el.tag = el.tag.split("}")[-1]
        license = _kit_license(kit)
        seen: set[str] = set()
        for inst in kit.iter("instrument"):
            name = (inst.findtext("name") or "").strip()
            files = [f.text.strip() for f in inst.iter("filename") if f.text]
            for fname in files:
                path = kit_dir / fname
                if fname in seen or path.suffix.lower() not in AUDIO_SUFFIXES or not path.exists():
                    continue
                seen.add(fname)
                if "empty" in fname.lower():  # placeholder samples in some kits
                    continue
                label = normalise_label(f"{name} {Path(fname).stem}") or normalise_label(Path(fname).stem)
                rec = _record(path, source="hydrogen", family="drums", root=root, label=label,
                              license=license, kit=kit_dir.name, instrument=name)
                if rec:
                    out.append(rec)
    return out


# --- wesnoth-1.16-data -------------------------------------------------------------------


def scan_wesnoth(root: Path | None = None) -> list[Recording]:
    """Game sound effects. Label from the file name: 'horse-canter-2.ogg' -> 'horse canter'."""
    root = Path(root) if root is not None else WESNOTH_ROOT
    if package_missing(root, "wesnoth-1.16-data"):
        return []
    return named_by_file(sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES),
                          root=root, source="wesnoth", family="wesnoth",
                          license="GPL-2+ (Battle for Wesnoth; see /usr/share/doc/wesnoth-1.16-data/copyright)")


# --- lmms-common -------------------------------------------------------------------------


def scan_lmms(root: Path | None = None) -> list[Recording]:
    """LMMS samples from the folders that hold sounds. Label: file name, folder as context."""
    root = Path(root) if root is not None else LMMS_ROOT
    if package_missing(root, "lmms-common"):
        return []
    out = []
    for folder in LMMS_SOUND_FOLDERS:
        out += named_by_file(sorted(p for p in (root / folder).glob("*") if p.suffix.lower() in AUDIO_SUFFIXES),
                              root=root, source="lmms", family="lmms",
                              license="GPL-2+ (LMMS; see /usr/share/doc/lmms-common/copyright)", folder=folder)
    return out


# --- asterisk-core-sounds-en-wav -------------------------------------------------------


def scan_asterisk(root: Path | None = None) -> list[Recording]:
    """Real speech prompts (one female speaker, 8 kHz). The file name is what is said."""
    root = Path(root) if root is not None else ASTERISK_ROOT
    if package_missing(root, "asterisk-core-sounds-en-wav"):
        return []
    out = []
    for path in sorted(root.rglob("*.wav")):
        rel = path.relative_to(root)
        if rel.parts[0] == "silence":
            continue
        words = re.sub(r"[-_]+", " ", path.stem).strip()
        rec = _record(path, source="asterisk", family="speech", root=root, label="female speech",
                      license="CC-BY-SA-3.0 (Asterisk core sounds, Allison Smith)", words=words,
                      category=rel.parts[0] if len(rel.parts) > 1 else "prompts")
        if rec:
            out.append(rec)
    return out
