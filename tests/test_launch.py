"""Stages on several processes: which stages relaunch under torchrun, and ranks other than 0
read what earlier stages wrote but publish nothing."""

from __future__ import annotations

import os
import sys

import pytest

from hsm_lib import paths
from hsm_lib.io import atomic_folder, atomic_write_text
from hsm_lib.launch import SPLIT_STAGES, TORCHRUN_ENV, shadow_outputs, torchrun_command


def test_only_split_stages_relaunch_and_only_once(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv(TORCHRUN_ENV, raising=False)
    assert torchrun_command("global_sep", ["global_sep"]) is None          # not asked
    monkeypatch.setenv(TORCHRUN_ENV, "--nproc_per_node=2 --max-restarts=0")
    cmd = torchrun_command("global_sep", ["global_sep", "--profile", "cpu"])
    assert cmd == [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--max-restarts=0",
                   "-m", "hsm_lib.stage", "global_sep", "--profile", "cpu"]
    assert torchrun_command("evaluate", ["evaluate"]) is None              # evaluation runs as one process
    assert torchrun_command("qaudio", ["qaudio"]) is None                  # contrastive losses do not split
    monkeypatch.setenv("RANK", "1")
    assert torchrun_command("global_sep", ["global_sep"]) is None          # already one of torchrun's
    assert set(SPLIT_STAGES) <= set(__import__("hsm_lib.stage", fromlist=["stages"]).stages())


def test_other_ranks_read_the_real_outputs_and_publish_none(tmp_path, monkeypatch):
    monkeypatch.setenv("HSM_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("HSM_REPORTS_DIR", str(tmp_path / "reports"))
    real = paths.profile_dir("p")
    atomic_write_text(real / "corpus" / "fbank_stats.json", "stats")
    atomic_write_text(real / "models" / "h1" / "config.json", "old h1")
    atomic_write_text(paths.reports_dir() / "a.md", "old table")
    atomic_write_text(paths.figures_dir() / "f.png", "old figure")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    with shadow_outputs("p") as shadow:
        assert paths.profile_dir("p") != real and str(paths.reports_dir()).startswith(str(shadow))
        assert (paths.corpus_dir("p") / "fbank_stats.json").read_text() == "stats"          # earlier stages' output
        assert (paths.profile_dir("p") / "models" / "h1" / "config.json").read_text() == "old h1"
        with atomic_folder(paths.profile_dir("p") / "models" / "h1") as tmp:              # a checkpoint
            (tmp / "config.json").write_text("new h1")
        with atomic_folder(paths.profile_dir("p") / "models" / "h2") as tmp:
            (tmp / "config.json").write_text("new h2")
        atomic_write_text(paths.reports_dir() / "a.md", "new table")                      # a report
        atomic_write_text(paths.reports_dir() / "timings" / "s.json", "{}")
        atomic_write_text(paths.figures_dir() / "f.png", "new figure")
        # the rank reads back what it wrote (e.g. a table it then displays)
        assert (paths.profile_dir("p") / "models" / "h1" / "config.json").read_text() == "new h1"
        assert (paths.reports_dir() / "a.md").read_text() == "new table"

    assert os.environ["HSM_DATA_ROOT"] == str(tmp_path / "data") and not shadow.exists()
    assert (real / "models" / "h1" / "config.json").read_text() == "old h1"
    assert (paths.reports_dir() / "a.md").read_text() == "old table"
    assert (paths.figures_dir() / "f.png").read_text() == "old figure"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("rank, publishes", [(None, True), ("0", True), ("1", False)])
def test_rank_zero_publishes(monkeypatch, rank, publishes):
    from hsm_lib.launch import publishing_rank

    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", rank)
    assert publishing_rank() is publishes
