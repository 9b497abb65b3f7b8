"""The command line, source availability, and building from whatever sources exist."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from hsm_lib.cli import main


def test_sources_command_lists_every_source(capsys):
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    for name in ("hydrogen", "gcompris", "wesnoth", "lmms", "asterisk", "espeak", "synth", "soundfont"):
        assert name in out


def test_unknown_stage_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "hsm_lib.cli", "stage", "nope"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown stage 'nope'" in proc.stderr


def test_corpus_builds_from_available_sources_and_names_the_missing(smoke_cfg, tmp_path, monkeypatch):
    """A machine without apt (a Mac): missing packages are named, the rest is used."""
    from hsm_lib.data.build import build_corpus
    from hsm_lib.data.sources import debian

    monkeypatch.setattr(debian, "WESNOTH_ROOT", tmp_path / "not-installed")
    cfg = replace(smoke_cfg, sources=["wesnoth", "synth", "hydrogen"], test_pairs_music=0)
    summary = build_corpus(cfg, tmp_path / "corpus", progress=False)
    assert "wesnoth" in summary["sources_missing"]
    assert set(summary["sources_used"]) <= {"synth", "hydrogen"} and summary["sources_used"]
