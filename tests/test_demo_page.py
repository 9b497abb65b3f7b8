"""The listening page: self-contained, small, every player loads in a real browser."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from hsm_lib.eval.browser_check import audio_status, find_chromium, screenshot
from hsm_lib.eval.demo_page import write_demo_page
from hsm_lib.eval.examples_store import array_key, load_example_sets, save_example_set

SYSTEMS = ("Ours (extraction)", "Ours (removal)", "ResUNet-FiLM (AudioSep architecture, same data)")


def _kept(folder, name="mixed", n=3, seconds=1.0):
    rng = np.random.default_rng(0)
    L = int(16000 * seconds)
    t = np.arange(L) / 16000
    items = [{"mixture": (0.3 * np.sin(2 * np.pi * 300 * (i + 1) * t) + 0.05 * rng.standard_normal(L)).astype(np.float32),
              "target": (0.3 * np.sin(2 * np.pi * 300 * (i + 1) * t)).astype(np.float32)} for i in range(n)]
    records = [{"id": f"{name}-{i}", "target_caption": "a tone <hums>", "other_caption": "noise",
                "instructions": {"extraction": {"text": "extract a tone <hums> & more"}, "removal": {"text": "remove noise"}}}
               for i in range(n)]
    outputs = {s: np.stack([it["target"] for it in items]) * (k + 1) / 4 for k, s in enumerate(SYSTEMS)}
    per_clip = {s: {"kl": np.arange(n) + k, "lsd": np.ones(n), "clap": np.zeros(n)} for k, s in enumerate(SYSTEMS)}
    per_clip["the floor"] = {"kl": np.full(n, 9.0)}
    save_example_set(folder, name, items, records, outputs, per_clip, SYSTEMS, k=2, mixture_row="the floor")
    return items, outputs


def test_kept_examples_round_trip(tmp_path):
    items, outputs = _kept(tmp_path)
    (s,) = load_example_sets(tmp_path)
    assert s.name == "mixed" and len(s) == 2 and s.systems == list(SYSTEMS)
    assert np.array_equal(s.target, np.stack([it["target"] for it in items[:2]]))
    assert np.array_equal(s.outputs[SYSTEMS[1]], outputs[SYSTEMS[1]][:2])
    assert s.examples[1]["metrics"][SYSTEMS[2]]["kl"] == 3.0
    assert s.examples[0]["metrics"]["mixture"] == {"kl": 9.0}
    assert array_key(SYSTEMS[2]) == "resunet_film_audiosep_architecture_same_data"


def test_page_is_one_small_file_with_a_player_per_signal_and_escaped_text(tmp_path):
    _kept(tmp_path / "ex")
    _kept(tmp_path / "ex", name="drums")
    sets = load_example_sets(tmp_path / "ex")
    assert [s.name for s in sets] == ["mixed", "drums"]          # the mixed set first
    page = write_demo_page(tmp_path / "demo" / "index.html", sets, "smoke", per_set=1)
    text = page.read_text()
    assert page.stat().st_size < 15e6
    assert text.count("<audio") == 2 * (2 + len(SYSTEMS))        # 2 sets x 1 example x (mixture, target, systems)
    assert text.count('src="data:audio/ogg;base64,') == text.count("<audio")
    assert "extract a tone &lt;hums&gt; &amp; more" in text and "<hums>" not in text
    assert not re.search(r'src="(?!data:)', text)                 # nothing to fetch: it opens from the file system
    assert "KL ↓ 9.00" in text                                     # the mixture's row: the floor's metrics


def test_page_plays_in_headless_chromium(tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt install chromium; scripts/setup.sh installs it)")
    _kept(tmp_path / "ex")
    page = write_demo_page(tmp_path / "index.html", load_example_sets(tmp_path / "ex"), "smoke", per_set=2)
    players = audio_status(page)
    assert len(players) == 2 * (2 + len(SYSTEMS))
    assert all(p.loaded for p in players), players
    assert all(abs(p.duration - 1.0) < 0.1 for p in players)
    shot = screenshot(page, tmp_path / "shot.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_ffmpeg_is_named(tmp_path, monkeypatch):
    from hsm_lib.eval import demo_page

    _kept(tmp_path / "ex")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(demo_page.FfmpegMissing, match="ffmpeg"):
        write_demo_page(tmp_path / "index.html", load_example_sets(tmp_path / "ex"), "smoke", per_set=1)
    assert not (tmp_path / "index.html").exists()               # nothing half-written
