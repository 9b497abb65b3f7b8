"""ViSQOL v3 (audio mode) on several clips at once, one worker process per core.

ViSQOL is single-threaded NumPy/SciPy (its gammatone filter bank is ``scipy.signal.lfilter``),
about 1.6 s a clip on these machines, so on 2 cores two workers halve its wall time. Each worker
computes exactly what the parent would, so the scores are the same numbers.

The workers are plain subprocesses (``python -m hsm_lib.eval.visqol_pool``) that read the clips
from a temporary folder: multiprocessing's spawn would re-run the caller's main script, which
breaks scripts without an ``if __name__ == "__main__"`` guard, and fork is unsafe in a process
that holds torch's thread pools. This module imports no torch, so a worker starts in about a
second.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

VISQOL_RATE = 48000  # the audio model's rate


@functools.lru_cache(maxsize=1)
def visqol_api():
    """The ``visqol-python`` API in audio mode (the 48 kHz SVR model shipped in the wheel)."""
    from visqol.api import VisqolApi

    api = VisqolApi()
    api.create(mode="audio")
    return api


def moslqo(pair: tuple[np.ndarray, np.ndarray]) -> float:
    """MOS-LQO of (reference, degraded), both float64 [T] at 48 kHz."""
    reference, degraded = pair
    return float(visqol_api().measure_from_arrays(reference, degraded, VISQOL_RATE).moslqo)


def moslqo_many(pairs: Sequence[tuple[np.ndarray, np.ndarray]], workers: int | None = None) -> list[float]:
    """:func:`moslqo` of each (reference, degraded) pair, in order, on ``workers`` processes
    (default: one per core, at most one per pair; 1: in this process)."""
    workers = min(workers or os.cpu_count() or 1, len(pairs))
    if workers <= 1:
        return [moslqo(p) for p in pairs]
    with tempfile.TemporaryDirectory(prefix="hsm-visqol-") as tmp:
        folder = Path(tmp)
        np.savez(folder / "pairs.npz", **{f"{kind}{i}": x for i, p in enumerate(pairs) for kind, x in zip("rd", p)})
        procs = [subprocess.Popen([sys.executable, "-m", __name__, str(folder), str(k), str(workers), str(len(pairs))],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for k in range(workers)]
        errors = [p.communicate()[1].decode(errors="replace") for p in procs]
        for p, err in zip(procs, errors):
            if p.returncode != 0:
                raise RuntimeError(f"a ViSQOL worker failed (exit {p.returncode}):\n{err.strip()}")
        scores: dict[int, float] = {}
        for k in range(workers):
            scores.update({int(i): s for i, s in json.loads((folder / f"scores{k}.json").read_text()).items()})
    return [scores[i] for i in range(len(pairs))]


def _worker(folder: Path, k: int, workers: int, n: int) -> None:
    """Score pairs k, k + workers, ... of ``folder``/pairs.npz into ``folder``/scores{k}.json."""
    with np.load(folder / "pairs.npz") as data:
        scores = {i: moslqo((data[f"r{i}"], data[f"d{i}"])) for i in range(k, n, workers)}
    (folder / f"scores{k}.json").write_text(json.dumps(scores))


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:5]))
