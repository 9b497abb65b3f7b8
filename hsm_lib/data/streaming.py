"""Triplet sets stored as records, mixed when read: the storage that scales to the paper's 1.7M.

A pre-mixed set stores every triplet's audio (int16 [N, 2, L]): at the paper's size that is
about 1.1 TB, and a stage that casts it to float holds twice that. A *records* set stores
only what makes each triplet, beside the clips it draws from, which are stored once:

    <name>.json          meta: {"storage": "records", "clips": <clip array, relative path>, ...}
    <name>.mix.npy       MIX_TABLE_DTYPE [N]: target row, other row, the other's gain, the common gain
    <name>.jsonl         one JSON record per line (ids, tags, captions, both instructions)
    <name>.offsets.npy   int64 [N + 1]: where each line starts in <name>.jsonl

:class:`MixedPairs` reads (target, other) pairs from the clip array through the mix table with
the very arithmetic that writes a pre-mixed set (:func:`hsm_lib.data.mixing.apply_gains`), so
both storages give the same int16 samples. :class:`JsonlRecords` reads one record per index.
Neither holds more than the rows asked for; both are memory maps, so DataLoader workers that
fork share them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from hsm_lib.data.mixing import INT16_SCALE, apply_gains

MIX_TABLE_DTYPE = np.dtype([("target", "<i8"), ("other", "<i8"), ("other_gain", "<f8"), ("gain", "<f8")])


class JsonlRecords(Sequence):
    """Records of a ``.jsonl`` file, parsed one index at a time.

    ``records[i]`` -> dict; ``records[a:b]`` -> a JsonlRecords view of those rows (nothing read).
    """

    def __init__(self, path: str | Path, rows: range | None = None):
        self.path = Path(path)
        self._offsets = np.load(self.path.with_suffix(".offsets.npy"), mmap_mode="r")
        n = len(self._offsets) - 1
        self._bytes = np.memmap(self.path, dtype=np.uint8, mode="r") if self._offsets[-1] > 0 else np.zeros(0, np.uint8)
        self._rows = rows if rows is not None else range(n)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            view = JsonlRecords.__new__(JsonlRecords)
            view.path, view._offsets, view._bytes, view._rows = self.path, self._offsets, self._bytes, self._rows[i]
            return view
        row = self._rows[i]
        return json.loads(self._bytes[self._offsets[row]:self._offsets[row + 1]].tobytes())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))


def write_jsonl(path: Path, records: Sequence[dict[str, Any]] | Iterator[dict[str, Any]]) -> int:
    """Write ``records`` to ``path`` (one compact JSON line each) and its ``.offsets.npy``; returns
    the count. Callers write into a temporary folder (the corpus is replaced atomically)."""
    offsets = [0]
    with open(path, "wb") as f:
        for rec in records:
            line = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
            f.write(line)
            offsets.append(offsets[-1] + len(line))
    np.save(path.with_suffix(".offsets.npy"), np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


class MixedPairs:
    """An int16 [N, 2, L] array of (target, other) pairs, mixed from ``clips`` [n_clips, L] int16
    through ``table`` (MIX_TABLE_DTYPE [N]) when indexed, never stored.

    Indexing as a numpy array: an int gives [2, L]; a slice gives a MixedPairs view (nothing
    mixed yet); an index array gives [len(idx), 2, L]; a tuple indexes within the rows it mixes
    (``pairs[i, :, a:b]`` -> [2, b - a]). ``np.asarray(pairs)`` mixes every row.
    """

    dtype = np.dtype(np.int16)

    def __init__(self, clips: np.ndarray, table: np.ndarray):
        if clips.dtype != np.int16 or clips.ndim != 2:
            raise ValueError(f"clips must be int16 [n_clips, L], got {clips.dtype} {clips.shape}")
        self.clips, self.table = clips, table

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.table), 2, self.clips.shape[1])

    @property
    def ndim(self) -> int:
        return 3

    def __len__(self) -> int:
        return len(self.table)

    def _pair(self, row) -> np.ndarray:
        scale = np.float32(INT16_SCALE)
        return apply_gains(self.clips[int(row["target"])].astype(np.float32) / scale,
                           self.clips[int(row["other"])].astype(np.float32) / scale,
                           float(row["other_gain"]), float(row["gain"]))

    def __getitem__(self, idx):
        if isinstance(idx, tuple):   # e.g. pairs[i, :, a:b], a crop: mix the rows, then index within them
            rows = self[idx[0]]
            within = idx[1:] if isinstance(idx[0], (int, np.integer)) else (slice(None), *idx[1:])
            return np.asarray(rows)[within]
        if isinstance(idx, slice):
            return MixedPairs(self.clips, self.table[idx])
        if isinstance(idx, (int, np.integer)):
            return self._pair(self.table[idx])
        rows = self.table[np.asarray(idx)]
        return np.stack([self._pair(r) for r in rows.reshape(-1)]).reshape(*np.shape(rows), 2, self.shape[2])

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self._pair(r) for r in self.table)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.stack([self._pair(r) for r in self.table]) if len(self) else np.zeros(self.shape, np.int16)
        return out if dtype is None else out.astype(dtype)
