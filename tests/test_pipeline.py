"""The separator's plumbing: overlap-add windows (identity reconstructs exactly), long and short
inputs, and model loading errors."""

from __future__ import annotations

import numpy as np
import pytest

from hsm_lib.checkpoint import CheckpointError
from hsm_lib.pipeline import Separator, crossfade_weights, overlap_add, window_starts


def test_window_starts_cover_the_signal():
    assert window_starts(100, 400, 300) == [0]
    assert window_starts(400, 400, 300) == [0]
    assert window_starts(401, 400, 300) == [0, 300]
    starts = window_starts(5000, 400, 300)
    assert starts[-1] + 400 >= 5000 and starts[-2] + 400 < 5000


@pytest.mark.parametrize("length", [1, 37, 399, 400, 401, 1234, 3 * 400 + 17, 10_000])
def test_identity_reconstructs_exactly(length):
    x = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    calls = []

    def identity(w):
        calls.append(len(w))
        return w

    y = overlap_add(x, 400, 100, identity, batch_size=3)
    assert y.shape == x.shape and np.allclose(y, x, atol=1e-6)
    assert sum(calls) == len(window_starts(length, 400, 300)) and max(calls) <= 3  # batched over windows


def test_joins_are_crossfades_not_cuts():
    # each window's output is a constant: the join between two windows must ramp, not step
    counter = iter(range(100))
    y = overlap_add(np.zeros(1000, np.float32), 400, 200, lambda w: np.stack([np.full(400, float(next(counter))) for _ in w]),
                    batch_size=1)
    assert y[0] == 0 and y[-1] == len(window_starts(1000, 400, 200)) - 1
    assert np.abs(np.diff(y)).max() < 0.05  # a hard cut would jump by 1
    w = crossfade_weights(400, 100)
    assert w[0] > 0 and w[150] == 1 and np.allclose(w[:100] + w[300:], 1.0)  # rise of one window + fall of the one before = 1


def test_bad_process_output_is_an_error():
    with pytest.raises(ValueError, match="expected"):
        overlap_add(np.zeros(500, np.float32), 400, 100, lambda w: w[:, :10])
    with pytest.raises(ValueError, match="overlap"):
        overlap_add(np.zeros(500, np.float32), 400, 400, lambda w: w)


def test_from_pretrained_names_what_is_missing(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Separator.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="separator.json is missing"):
        Separator.from_pretrained(tmp_path)
