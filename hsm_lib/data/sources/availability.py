"""Which real-sound sources this machine has, and what to install for the rest."""

from __future__ import annotations

import ctypes.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from hsm_lib.data.sources import debian, tuxpaint
from hsm_lib.data.sources.gcompris import DEFAULT_ROOT as GCOMPRIS_ROOT
from hsm_lib.data.sources.soundfont import DEFAULT_SF2


@dataclass(frozen=True)
class SourceStatus:
    source: str
    available: bool
    needs: str  # the Debian package(s) that provide it
    what: str


def source_status() -> list[SourceStatus]:
    """One line per source of the offline corpus (cheap: looks at files, decodes nothing)."""
    return [
        SourceStatus("hydrogen", debian.HYDROGEN_ROOT.is_dir(), "hydrogen-drumkits", "real drum hits"),
        SourceStatus("gcompris", Path(GCOMPRIS_ROOT).is_dir(), "gcompris-qt-data", "instruments, animals, effects"),
        SourceStatus("wesnoth", debian.WESNOTH_ROOT.is_dir(), "wesnoth-1.16-data", "game sound effects"),
        SourceStatus("lmms", debian.LMMS_ROOT.is_dir(), "lmms-common", "LMMS samples"),
        SourceStatus("asterisk", debian.ASTERISK_ROOT.is_dir(), "asterisk-core-sounds-en-wav", "real speech prompts"),
        SourceStatus("espeak", shutil.which("espeak-ng") is not None, "espeak-ng", "synthetic male/female speech"),
        SourceStatus("synth", True, "-", "procedural synthesis (always available)"),
        SourceStatus("tuxpaint", tuxpaint.TUXPAINT_ROOT.is_dir(), tuxpaint.PACKAGE,
                     "stamp sounds: the out-of-domain test set only"),
        SourceStatus("soundfont", Path(DEFAULT_SF2).is_file() and ctypes.util.find_library("fluidsynth") is not None,
                     "fluid-soundfont-gm libfluidsynth3", "MUSIC-synth zero-shot test set"),
    ]


def report() -> str:
    lines = []
    for s in source_status():
        mark = "ok     " if s.available else "MISSING"
        hint = "" if s.available else f"  (install: {s.needs})"
        lines.append(f"  {mark} {s.source:<10} {s.what}{hint}")
    missing = [s.source for s in source_status() if not s.available]
    head = "real-sound sources: all present" if not missing else \
        f"real-sound sources: {len(missing)} missing; the corpus is built from the others"
    return head + "\n" + "\n".join(lines)
