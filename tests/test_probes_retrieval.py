"""Linear probes and retrieval metrics: the data they build and the numbers they compute."""

from __future__ import annotations

import numpy as np
import pytest

from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.eval import probes as pr
from hsm_lib.eval.retrieval import queries_and_relevance, recall_at_k


def test_place_in_clip_keeps_the_sound_over_a_quiet_floor():
    rng = np.random.default_rng(0)
    sound = np.ones(1000, dtype=np.float32) * 0.5
    clip = pr.place_in_clip(sound, 4000, rng)
    assert clip.shape == (4000,)
    loud = np.flatnonzero(np.abs(clip) > 0.4)
    assert len(loud) == 1000 and loud[-1] - loud[0] == 999  # one contiguous copy
    floor = np.delete(clip, loud)
    assert 0 < np.sqrt(np.mean(floor ** 2)) < 10 ** (-55 / 20)  # -60 dBFS noise, not digital silence
    long = pr.place_in_clip(np.ones(9000, dtype=np.float32), 4000, rng)
    assert long.shape == (4000,)


def test_pitch_probe_labels_are_the_notes_pitch_classes():
    probe = pr.pitch_class_probe(clip_seconds=1.0, n_notes=12, test_fraction=0.25, seed=0)
    assert probe.train_waves.shape == (9, SAMPLE_RATE) and probe.test_waves.shape == (3, SAMPLE_RATE)
    # the strongest partial is the fundamental (spectral tilt >= 0.8): its frequency gives the class
    for wave, label in zip(probe.train_waves, probe.train_labels):
        spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
        f0 = np.argmax(spec) * SAMPLE_RATE / len(wave)
        midi = 69 + 12 * np.log2(f0 / 440.0)
        assert round(midi) % 12 == label, (f0, label)


def test_spoken_word_probe_splits_by_speaker(tmp_path):
    from hsm_lib.data.sources.speech import espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    probe = pr.spoken_word_probe(clip_seconds=1.0, n_voices=4, test_fraction=0.5, words=("one", "two"), seed=3,
                                 asterisk_root=tmp_path / "no-asterisk")
    assert probe.classes == ["one", "two"]
    # every speaker says every word once: counts per side are multiples of the vocabulary
    assert len(probe.train_labels) % 2 == 0 and len(probe.test_labels) % 2 == 0
    assert len(probe.train_labels) > 0 and len(probe.test_labels) > 0
    assert len(probe.train_labels) + len(probe.test_labels) == 8
    assert "no real speaker" in probe.note


def test_linear_probe_separates_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = rng.standard_normal((60, 5)) + 4 * np.eye(3, 5)[y]
    assert pr.linear_probe_accuracy(x[::2], y[::2], x[1::2], y[1::2]) > 0.9
    noise = rng.standard_normal((60, 5))
    assert pr.linear_probe_accuracy(noise[::2], y[::2], noise[1::2], y[1::2]) < 0.7


def test_recall_at_k_by_hand():
    queries, rel = queries_and_relevance([["a dog", "a dog barks"], ["rain"], ["a dog"]])
    assert queries == ["a dog", "a dog barks", "rain"]
    assert rel.tolist() == [[True, False, True], [True, False, False], [False, True, False]]
    sim = np.array([[0.1, 0.9, 0.5],   # "a dog": best is clip 1 (wrong), then clip 2 (relevant)
                    [0.9, 0.1, 0.0],   # "a dog barks": clip 0 first (right)
                    [0.0, 0.1, 0.9]])  # "rain": clip 1 is second
    r = recall_at_k(sim, rel, ks=(1, 2))
    assert r == {"R@1": pytest.approx(100 / 3), "R@2": pytest.approx(100.0)}


def test_table7_shows_intervals_and_averages_the_random_init_seeds(tmp_path, monkeypatch):
    """A single model's cell is its accuracy with the binomial 95 % half-width on its test clips;
    the random-init row is the mean over its seeds with the t-interval of that mean, and the
    seeds' own rows are folded into it (listed in a note, kept in the JSON)."""
    import json

    from hsm_lib import paths

    monkeypatch.setattr(paths, "reports_dir", lambda: tmp_path)
    probe = pr.ProbeSet("pitch_class", ["a", "b"], np.zeros((4, 10), np.float32), np.array([0, 1, 0, 1]),
                        np.zeros((100, 10), np.float32), np.array([0] * 60 + [1] * 40), "test probe")
    results = {"pretrained": {"pitch_class": 80.0}, "rand 1": {"pitch_class": 70.0},
               "rand 2": {"pitch_class": 74.0}, "rand 3": {"pitch_class": 78.0}}
    pr.write_table7(results, [probe], "smoke", seed_rows={"random init (mean of 3 seeds)": ["rand 1", "rand 2", "rand 3"]})
    md = (tmp_path / "table7_linear_probe.md").read_text()
    # 1.96 sqrt(0.8 0.2 / 100) = 7.84 points; t(0.975, 2) 4 / sqrt(3) = 9.94
    assert "| pretrained | 80.0 ± 7.8 |" in md
    assert "| random init (mean of 3 seeds) | 74.0 ± 9.9 |" in md
    assert "rand 1 |" not in md and "70.0 / 74.0 / 78.0" in md
    assert md.index("| pretrained |") < md.index("| random init (mean of 3 seeds) |")   # results' order kept
    assert "| majority class (chance) | 60.0 |" in md
    data = json.loads((tmp_path / "table7_linear_probe.json").read_text())
    assert data["accuracy"]["rand 2"]["pitch_class"] == 74.0
    assert abs(data["ci95"]["pretrained"]["pitch_class"]["ci95"] - 7.84) < 0.01
    assert pr.accuracy_ci95(50.0, 0) != pr.accuracy_ci95(50.0, 0)   # nan: no test clips, no interval


def test_run_probes_fits_each_row_and_probe_in_worker_processes_as_in_process():
    import torch

    from hsm_lib.features import fbanks

    rng = np.random.default_rng(5)
    t = np.arange(8000) / 16000

    def probe(name: str, freqs: list[float]) -> pr.ProbeSet:
        labels = np.repeat(np.arange(len(freqs)), 6)
        waves = np.stack([np.sin(2 * np.pi * freqs[k] * t) + 0.3 * rng.standard_normal(len(t)) for k in labels]).astype(np.float32)
        return pr.ProbeSet(name, [str(f) for f in freqs], waves[::2], labels[::2], waves[1::2], labels[1::2], "tones")

    probes = [probe("low", [200.0, 400.0]), probe("high", [1000.0, 2000.0, 3000.0])]
    extractors = {"mean log-mel": pr.logmel_extractor(), "first frame": lambda x: x[:, 0].numpy()}
    results = pr.run_probes(probes, extractors, n_frames=48, mean=0.0, std=1.0)
    for p in probes:
        train = fbanks(p.train_waves, 48, 0.0, 1.0, dtype=torch.float32)
        test = fbanks(p.test_waves, 48, 0.0, 1.0, dtype=torch.float32)
        for row, fx in extractors.items():
            assert results[row][p.name] == 100.0 * pr.linear_probe_accuracy(fx(train), p.train_labels, fx(test), p.test_labels)
    assert results["mean log-mel"]["low"] > 80.0
