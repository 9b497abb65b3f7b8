"""Stage ``ood_data``: the out-of-domain test set of real recordings never seen in training.

Scans Tux Paint's stamp sounds, drops those that are also recordings of the training sources,
and writes the ``ood`` triplet set under data/<profile>/ood/testsets (read it with
``TripletSet(dir, "ood")``) and its Table I row (``table1_ood.md``/``.json``). The seed, clip
length, SNR range and training sources are the profile's ``data`` section's. Without the
package the set is written empty, the report says so, and the stage still succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hsm_lib import paths
from hsm_lib.config import from_section, profile_section
from hsm_lib.data.build import DataConfig
from hsm_lib.data.ood import SET_NAME, OodConfig, build_ood_set, training_reference
from hsm_lib.data.records import read_json
from hsm_lib.data.report import table1_ood_markdown, write_table1_ood
from hsm_lib.data.sources.tuxpaint import PACKAGE, scan_tuxpaint
from hsm_lib.data.triplets import TripletSet

log = logging.getLogger(__name__)


@dataclass
class OodResult:
    """What the notebook shows."""

    cfg: OodConfig
    data: DataConfig
    out_dir: Path
    summary: dict[str, Any]
    table: str                                                    # Table I row, Markdown
    examples: list[dict[str, Any]] = field(default_factory=list)  # the first triplets


def run(profile: str, params: dict | None = None, progress: bool = True) -> OodResult:
    """Build data/<profile>/ood and write table1_ood.md/.json."""
    cfg = from_section(OodConfig, params if params is not None else profile_section("ood_data", profile), "ood_data")
    data = DataConfig.from_params(profile_section("data", profile))
    found = scan_tuxpaint()
    if not found:
        log.warning("=" * 78 + "\nOOD TEST SET EMPTY: no Tux Paint stamp sounds (install the Debian package "
                    "'%s', see scripts/setup.sh).\nWriting an empty set; evaluation will skip it.\n" + "=" * 78,
                    PACKAGE)
    reference = training_reference(data, data.workers, progress) if found else {}
    out_dir = paths.ood_dir(profile)
    summary = build_ood_set(cfg, data, out_dir, found, reference, progress)
    if profile == "paper" and not data.use_offline_corpus:
        # The duplicate check reads the offline sources only; the paper's corpora draw on Freesound, as
        # Tux Paint's stamps often do, and are not read here (review of 2026-12-07).
        summary["unchecked"] = ("this profile trains on the paper's corpora (AudioCaps, Clotho, FSD50K, WavCaps), which the "
                                "duplicate check does not read: a stamp sound from Freesound may be among their clips")
        log.warning("OOD set not checked against the paper's corpora: %s", summary["unchecked"])
    write_table1_ood(summary, profile, paths.reports_dir(profile))
    ood = TripletSet(out_dir / "testsets", SET_NAME)
    examples = [ood[i] for i in range(min(3, len(ood)))]
    return OodResult(cfg, data, out_dir, summary, table1_ood_markdown(summary, profile), examples)


def recordings_table(result: OodResult) -> pd.DataFrame:
    """Recordings found per status (used, untagged, duplicate of training, ...)."""
    rows = read_json(result.out_dir / "recordings.json")
    if not rows:
        return pd.DataFrame(columns=["recordings"])
    return pd.DataFrame(rows).groupby("status").size().rename("recordings").to_frame()


def tags_table(result: OodResult) -> pd.DataFrame:
    """Used recordings per unified tag."""
    return pd.Series(result.summary["recordings_per_tag"], name="recordings", dtype=int).to_frame()
