"""Restyling a figure reruns the figures stage only: checked through DVC's own status."""

from __future__ import annotations

import json

import yaml

from project_copy import ROOT, copy_project, run_in


def _status(dest) -> dict:
    return json.loads(run_in(dest, "dvc", "status", "--json", timeout=600).stdout or "{}")


def test_editing_only_the_fig7_plotting_code_invalidates_only_the_figures_stage(tmp_path):
    dest = copy_project(tmp_path / "project", yaml.safe_load((ROOT / "params.yaml").read_text()))
    before = _status(dest)     # the copy has no data/: every stage already reports its missing files
    plotting = dest / "hsm_lib" / "figures" / "fig7_examples.py"
    plotting.write_text(plotting.read_text().replace('cmap="magma"', 'cmap="viridis"'))
    after = _status(dest)
    changed = {stage for stage in set(before) | set(after) if before.get(stage) != after.get(stage)}
    assert changed <= {"figures"}, {s: after.get(s) for s in changed}      # (empty if the lock was already stale)
    # the stages DVC finds out of date because of the edited folder: the figures stage alone
    mentions = {stage for stage, entries in after.items() if "hsm_lib/figures" in json.dumps(entries)}
    assert mentions == {"figures"}, mentions
