"""Stage ``demo``: ``reports/demo/index.html``, the listening page the paper's demo link stands for.

Builds the page from the examples the ``evaluate`` stage kept (the first ``per_set`` of each test
set), then opens it in headless Chromium: every audio player must load and have a duration, and
a screenshot goes to ``reports/figures/demo_page.png``. The page must stay under ``max_mb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hsm_lib import paths
from hsm_lib.config import check_keys, profile_section
from hsm_lib.eval.browser_check import audio_status, screenshot
from hsm_lib.eval.demo_page import write_demo_page
from hsm_lib.eval.examples_store import examples_dir, load_example_sets


@dataclass
class DemoResult:
    """What the demo notebook shows."""

    page: Path
    megabytes: float
    players: int
    screenshot: Path


def run(profile: str, params: dict | None = None, progress: bool = True) -> DemoResult:
    """Write the page, check it in a browser, save its screenshot; ``params``: the ``demo`` section."""
    P = params if params is not None else profile_section("demo", profile)
    check_keys(P, {"per_set", "max_mb"}, "demo")
    sets = load_example_sets(examples_dir(profile))
    if not sets:
        raise FileNotFoundError(f"no kept examples in {examples_dir(profile)}: run the evaluate stage first")
    page = write_demo_page(paths.reports_dir() / "demo" / "index.html", sets, profile, P["per_set"])
    megabytes = page.stat().st_size / 1e6
    if megabytes > P["max_mb"]:
        raise RuntimeError(f"{page} is {megabytes:.1f} MB, over params.yaml demo.max_mb = {P['max_mb']}")
    players = audio_status(page)
    broken = [i for i, a in enumerate(players) if not a.loaded]
    if not players or broken:
        raise RuntimeError(f"{page}: {len(broken)} of {len(players)} audio players did not load in Chromium "
                           f"(players {broken[:10]})")
    shot = screenshot(page, paths.figures_dir() / "demo_page.png")
    print(f"demo page: {megabytes:.2f} MB, {len(players)} players, each loaded with a duration; screenshot {shot}")
    return DemoResult(page, megabytes, len(players), shot)
