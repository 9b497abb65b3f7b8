"""Open a page in headless Chromium: does every ``<audio>`` load, and what does the page look like?

The demo page records each player's duration in a ``data-duration`` attribute once the browser
has decoded its header (:mod:`hsm_lib.eval.demo_page`). Chromium's ``--dump-dom`` prints the DOM
after the page's scripts ran, within a virtual-time budget, so the attributes show whether each
source loaded. ``--screenshot`` saves a PNG of the first screenful.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from hsm_lib.io import atomic_path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Root in a container has no user namespace for Chromium's sandbox; the page is our own file.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
         "--allow-file-access-from-files")


class ChromiumMissing(RuntimeError):
    """No headless Chromium on PATH."""


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class AudioStatus:
    """One ``<audio>`` element as the browser left it."""

    duration: float | None      # seconds, once its metadata loaded
    error: str | None           # the MediaError code, if loading failed

    @property
    def loaded(self) -> bool:
        return self.error is None and self.duration is not None and self.duration > 0


class _AudioTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[AudioStatus] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "audio":
            a = dict(attrs)
            self.found.append(AudioStatus(float(a["data-duration"]) if a.get("data-duration") else None, a.get("data-error")))


def _chromium(*args: str, timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise ChromiumMissing("no Chromium found (Debian: apt install chromium; scripts/setup.sh installs it)")
    return subprocess.run([exe, *FLAGS, *args], capture_output=True, text=True, timeout=timeout, check=False)


def audio_status(page: Path, budget_ms: int = 20000, timeout: float = 180) -> list[AudioStatus]:
    """Every ``<audio>`` of ``page`` after the browser ran it for ``budget_ms`` of virtual time."""
    done = _chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri(), timeout=timeout)
    if done.returncode != 0 or "<html" not in done.stdout.lower():
        raise RuntimeError(f"Chromium could not render {page} (exit {done.returncode}): {done.stderr[-2000:]}")
    parser = _AudioTags()
    parser.feed(done.stdout)
    return parser.found


def screenshot(page: Path, out: Path, size: tuple[int, int] = (1280, 1600), timeout: float = 180) -> Path:
    """A PNG of ``page``'s first ``size`` pixels, written atomically to ``out``."""
    with atomic_path(out) as tmp:
        done = _chromium("--hide-scrollbars", f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000",
                         f"--screenshot={tmp}", page.resolve().as_uri(), timeout=timeout)
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            raise RuntimeError(f"Chromium could not take a screenshot of {page} (exit {done.returncode}): {done.stderr[-2000:]}")
    return out
