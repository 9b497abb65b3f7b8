"""The probes pool S over time only: each frequency row keeps its own vector."""

from __future__ import annotations

import torch

from hsm_lib.eval.probes import time_pooled


def test_time_pooling_keeps_the_frequency_rows_apart():
    rows, cols, c = 5, 3, 4
    S = torch.zeros(2, rows * cols, c)
    # clip 0: energy in frequency row 0; clip 1: the same energy in row 2 (S is time-major)
    S.view(2, rows, cols, c)[0, :, 0] = 1.0
    S.view(2, rows, cols, c)[1, :, 2] = 1.0
    pooled = time_pooled(S, cols)
    assert pooled.shape == (2, cols * c)
    assert torch.equal(pooled[0, :c], torch.ones(c)) and torch.equal(pooled[0, c:], torch.zeros(2 * c))
    assert torch.equal(pooled[1, 2 * c:], torch.ones(c)) and torch.equal(pooled[1, :2 * c], torch.zeros(2 * c))
    # a plain mean over all patches could not tell the two clips apart
    assert torch.equal(S[0].mean(0), S[1].mean(0))


def test_time_pooling_averages_over_time():
    S = torch.arange(2 * 3 * 1, dtype=torch.float32).reshape(1, 6, 1)   # rows 2, cols 3
    assert torch.equal(time_pooled(S, 3), torch.tensor([[1.5, 2.5, 3.5]]))
