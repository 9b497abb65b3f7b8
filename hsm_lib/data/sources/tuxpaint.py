"""Tux Paint's stamp sounds (Debian package ``tuxpaint-stamps-default``): the out-of-domain set.

Tux Paint attaches a short real recording to some of its stamps (``animals/birds/crow.ogg``,
``household/vacuum_cleaner.ogg``). No training source ships these files, so they make a test
set of real recordings the models never heard (:mod:`hsm_lib.data.ood`). Like the scanners of
:mod:`hsm_lib.data.sources.debian`, :func:`scan_tuxpaint` returns :class:`Recording` records with
lazy loaders, labelled by the normalised file name, and an empty list (with a warning) when the
package is not installed.

What is kept: the stamps' sound files, except
  * ``*_desc*`` files: a spoken description of the stamp, one per language;
  * everything under ``symbols/``: spoken letters, digits and signs;
  * the stamps whose sound is speech (``SPEECH_STEMS``: a radio call, a ghost's voice, the
    dreidel letters, Santa's "ho ho ho", a spoken roll call).
Which of the rest have a sound their name tells is decided by the OOD taxonomy
(:data:`hsm_lib.data.taxonomy.OOD_RULES`): a gift or a road sign has no nameable sound.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from hsm_lib.data.records import Recording
from hsm_lib.data.sources.debian import AUDIO_SUFFIXES, named_by_file, package_missing

log = logging.getLogger(__name__)

TUXPAINT_ROOT = Path("/usr/share/tuxpaint/stamps")
COPYRIGHT = Path("/usr/share/doc/tuxpaint-stamps-default/copyright")
PACKAGE = "tuxpaint-stamps-default"

SPEECH_STEMS = frozenset({
    "apollo_lander",                                                     # "the Eagle has landed"
    "ghost", "santahat", "final-roll-call",                              # voices
    "dreydl-gimmel", "dreydl-hay", "dreydl-nun", "dreydl-shin",          # the letters, spoken
})


def package_license(copyright_file: Path = COPYRIGHT) -> str:
    """The licence and copyright of the ``Files: *`` paragraph of the package's Debian copyright."""
    if not Path(copyright_file).is_file():
        return f"GPL-2 (Tux Paint stamps; {copyright_file} not found)"
    text = Path(copyright_file).read_text(encoding="utf-8", errors="replace")
    para = next((p for p in re.split(r"\n\s*\n", text) if re.match(r"Files:\s*\*\s*$", p, re.M)), "")
    lic = re.search(r"^License:\s*(.+)$", para, re.M)
    holder = re.search(r"^Copyright:\s*(.+)$", para, re.M)
    parts = [lic.group(1).strip() if lic else "unknown"]
    detail = "; ".join(x for x in ("Tux Paint stamps", holder.group(1).strip() if holder else "",
                                   f"see {copyright_file}") if x)
    return f"{parts[0]} ({detail})"


def is_kept(rel: Path) -> bool:
    """Whether the stamp sound at ``rel`` (relative to the stamps folder) may be used: see the module."""
    return (rel.suffix.lower() in AUDIO_SUFFIXES and "_desc" not in rel.stem
            and rel.parts[0] != "symbols" and rel.stem not in SPEECH_STEMS)


def scan_tuxpaint(root: Path | None = None, copyright_file: Path = COPYRIGHT) -> list[Recording]:
    """Stamp sounds that are not speech. Label: the file name, 'cow_white.ogg' -> 'cow white'."""
    root = Path(root) if root is not None else TUXPAINT_ROOT
    if package_missing(root, PACKAGE):
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_kept(p.relative_to(root)))
    return named_by_file(files, root=root, source="tuxpaint", family="tuxpaint",
                          license=package_license(copyright_file))
