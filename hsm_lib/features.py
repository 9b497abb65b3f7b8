"""From stored int16 corpus audio to model inputs: normalised fbanks, AudioMAE features S.

Everything here works in batches over arrays the corpus stores ([N, L] int16 clips, or
[N, 2, L] int16 triplets whose mixture is the sum of the two rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.audio import fbank, normalise_fbank
from hsm_lib.data.triplets import TripletSet


def fbank_stats(corpus: str | Path) -> tuple[float, float]:
    """(mean, std) of the corpus's training fbanks (written by the data stage)."""
    stats = json.loads((Path(corpus) / "fbank_stats.json").read_text())
    return float(stats["mean"]), float(stats["std"])


def to_float(audio: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1); float input is passed through."""
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return np.asarray(audio, dtype=np.float32)


def map_clips(fn: Callable[[torch.Tensor], torch.Tensor], waves: np.ndarray, device: torch.device, batch_size: int = 16,
              desc: str = "clips", progress: bool = False) -> torch.Tensor:
    """``fn`` over stored clips [N, L] (int16 or float), a batch [B, L] of float32 on ``device`` at a
    time; its outputs concatenated on the CPU (e.g. a codec's tokens of a whole split)."""
    out = []
    for i in tqdm(range(0, len(waves), batch_size), desc=desc, disable=not progress, leave=False):
        out.append(fn(torch.from_numpy(to_float(np.asarray(waves[i:i + batch_size]))).to(device)).cpu())
    return torch.cat(out)


def triplet_mixtures(triplets: np.ndarray) -> np.ndarray:
    """[N, 2, L] int16 (target, other) -> [N, L] float32 mixtures (their sum)."""
    return triplets.astype(np.float32).sum(axis=1) / 32768.0


def fbanks(waves: np.ndarray, n_frames: int, mean: float, std: float, dtype: torch.dtype = torch.float16,
           progress: bool = False, desc: str = "fbank", device: str | torch.device = "cpu") -> torch.Tensor:
    """[N, L] waves (int16 or float) -> [N, n_frames, 128] normalised log-mel, stored as ``dtype``
    (float16 halves the memory of a cached training set; models upcast per batch), computed on
    ``device`` one row at a time."""
    out = torch.empty(len(waves), n_frames, 128, dtype=dtype, device=device)
    for i in tqdm(range(len(waves)), desc=desc, disable=not progress, leave=False):
        wave = torch.from_numpy(to_float(np.asarray(waves[i]))).to(device)
        out[i] = normalise_fbank(fbank(wave, n_frames), mean, std).to(dtype)
    return out


class FbankRows:
    """Normalised fbanks of stored waves [N, L], computed when indexed, on ``device``: the
    streaming counterpart of :func:`fbanks` for sets too big to hold (the paper's 0.5 TB).

    ``rows[idx]`` (indices or a slice) -> [len(idx), n_frames, 128] float32.
    """

    def __init__(self, waves, n_frames: int, mean: float, std: float, device: str | torch.device = "cpu"):
        self.waves, self.n_frames, self.mean, self.std, self.device = waves, n_frames, mean, std, device

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, idx) -> torch.Tensor:
        if isinstance(idx, slice):
            idx = np.arange(len(self))[idx]
        idx = np.asarray(idx.cpu() if isinstance(idx, torch.Tensor) else idx).reshape(-1)
        return fbanks(Rows(self.waves, idx), self.n_frames, self.mean, self.std, torch.float32, device=self.device)


class Rows:
    """The rows ``idx`` of a stored array, read when indexed (``rows[k]`` is ``array[idx[k]]``)."""

    def __init__(self, array, idx: np.ndarray):
        self.array, self.idx = array, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, k: int):
        return self.array[int(self.idx[k])]


class StackedRows:
    """Several stored arrays [N_k, L] as one [sum N_k, L], read a row at a time: ``rows[j]`` or
    ``rows[j, a:b]`` (what a random crop reads), without concatenating them."""

    def __init__(self, *parts):
        if len({p.shape[1] for p in parts}) > 1:
            raise ValueError(f"rows of different lengths: {[p.shape for p in parts]}")
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.starts[-1]), self.parts[0].shape[1]

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key):
        j, cols = key if isinstance(key, tuple) else (key, slice(None))
        if not 0 <= j < len(self):
            raise IndexError(f"row {j} of {len(self)}")
        k = int(np.searchsorted(self.starts, j, side="right")) - 1
        return np.asarray(self.parts[k][int(j - self.starts[k])])[cols]


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 32,
            device: str | torch.device = "cpu", progress: bool = False, desc: str = "encode") -> torch.Tensor:
    """Apply ``fn`` to ``x`` [N, ...] in batches (float32 on ``device``); results on the CPU."""
    outs = []
    for i in tqdm(range(0, len(x), batch_size), desc=desc, disable=not progress, leave=False):
        outs.append(fn(x[i:i + batch_size].to(device, torch.float32)).cpu())
    return torch.cat(outs) if outs else torch.empty(0)


def corpus_waves(corpus: str | Path, split: str, kind: str = "clips"):
    """Stored audio of one split, read per row: ``kind`` "clips" -> [N, L] int16 source clips
    (memory-mapped); "mixtures" -> :class:`TripletMixtures` of the split's triplets ([L] float32
    per row), whichever storage the set uses."""
    corpus = Path(corpus)
    if kind == "clips":
        return np.load(corpus / "clips" / f"{split}.npy", mmap_mode="r")
    if kind == "mixtures":
        return TripletMixtures(TripletSet(corpus / "triplets", split).audio)
    raise ValueError(f"kind must be 'clips' or 'mixtures', got {kind!r}")


def corpus_fbanks(corpus: str | Path, split: str, kinds: tuple[str, ...], n_frames: int, limit: int | None = None,
                  progress: bool = False, cache: bool = True, device: str | torch.device = "cpu"):
    """Normalised fbanks [N, n_frames, 128] of ``kinds`` of ``split``, concatenated (at most
    ``limit`` of each): computed now and held as float16 (``cache``), or a :class:`FbankRows` that
    computes each batch on ``device`` when indexed."""
    mean, std = fbank_stats(corpus)
    waves = [corpus_waves(corpus, split, kind)[:limit] for kind in kinds]
    if not cache:
        return FbankRows(StackedRows(*waves), n_frames, mean, std, device)
    return torch.cat([fbanks(w, n_frames, mean, std, progress=progress, desc=f"fbank {split} {kind}")
                      for w, kind in zip(waves, kinds)])


class AudioMAEFeatures:
    """S of a set of stored clips, computed per batch (``cache=False``, for corpora too big to
    hold, e.g. the paper's 230k clips) or once up front and kept as float16 (``cache=True``): in
    memory, or in a float16 file at ``spill`` (memory-mapped: an evaluation set read many times,
    e.g. the paper's 8000 test clips, 6 GB of S).

    ``features[idx]`` -> [len(idx), P, C_s] float32 on the model's device, either way.
    """

    def __init__(self, model, waves: np.ndarray, n_frames: int, mean: float, std: float, cache: bool = True,
                 batch_size: int = 32, progress: bool = False, precomputed: torch.Tensor | None = None,
                 spill: str | Path | None = None):
        self.model, self.waves, self.n_frames, self.mean, self.std = model.eval(), waves, n_frames, mean, std
        self.device = next(model.parameters()).device
        self.cached: torch.Tensor | None = None
        batches = range(0, len(waves), batch_size)
        if precomputed is not None:
            # S the audiomae stage already computed for these waves (FeatureStore): nothing to redo
            if len(precomputed) != len(waves):
                raise ValueError(f"precomputed S has {len(precomputed)} rows for {len(waves)} waves")
            self.cached = precomputed.to(torch.float16)
        elif cache and spill is not None:
            shape = (len(waves), model.cfg.n_patches, model.cfg.dim)
            held = np.lib.format.open_memmap(Path(spill), mode="w+", dtype=np.float16, shape=shape)
            for i in tqdm(batches, desc="AudioMAE features", disable=not progress, leave=False):
                held[i:i + batch_size] = self._compute(np.arange(i, min(i + batch_size, len(waves)))).to(torch.float16).numpy()
            held.flush()
            self.cached = torch.from_numpy(held)
        elif cache:
            self.cached = torch.cat([self._compute(np.arange(i, min(i + batch_size, len(waves))))
                                     for i in tqdm(batches, desc="AudioMAE features", disable=not progress,
                                                   leave=False)]).to(torch.float16)

    @torch.no_grad()
    def _compute(self, idx: np.ndarray) -> torch.Tensor:
        x = fbanks(self.waves[np.sort(idx)] if len(idx) else self.waves[:0], self.n_frames, self.mean, self.std, torch.float32)
        order = np.argsort(np.argsort(idx))  # back from sorted (cheap memmap reads) to the asked order
        return self.model.features(x.to(self.device))[torch.as_tensor(order)].cpu()

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, idx) -> torch.Tensor:
        idx = np.asarray(idx.cpu() if isinstance(idx, torch.Tensor) else idx).reshape(-1)
        out = self.cached[torch.as_tensor(idx)] if self.cached is not None else self._compute(idx)
        return out.to(self.device, torch.float32)


class FeatureStore:
    """S of the corpus sets that several stages read, computed once by the ``audiomae`` stage.

    One safetensors file per set, ``<directory>/<name>.safetensors``: ``S`` [N, P, C_s] float16
    and ``digest`` [N, 20] uint8, the SHA-1 of each stored audio row the features came from, so
    that stale features are refused rather than silently used. The profiles that stream their
    data (the paper's) export nothing, and :meth:`load` returns None: the caller computes S.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.safetensors"

    @staticmethod
    def digests(rows: np.ndarray) -> np.ndarray:
        """[N, 20] uint8: the SHA-1 of each row of ``rows`` [N, ...] (stored audio)."""
        import hashlib

        return np.stack([np.frombuffer(hashlib.sha1(np.ascontiguousarray(r).tobytes()).digest(), np.uint8)
                         for r in rows]) if len(rows) else np.zeros((0, 20), np.uint8)

    def save(self, name: str, S: torch.Tensor, rows: np.ndarray, digests: np.ndarray | None = None) -> None:
        """Write ``S`` [N, P, C_s] of the stored rows ``rows`` [N, ...] (atomic); ``digests``: their
        :meth:`digests`, when the caller already has them."""
        from safetensors.torch import save_file

        from hsm_lib.io import atomic_path

        if len(S) != len(rows):
            raise ValueError(f"{name}: {len(S)} feature rows for {len(rows)} audio rows")
        with atomic_path(self.path(name)) as tmp:
            digests = self.digests(rows) if digests is None else digests
            save_file({"S": S.to(torch.float16).contiguous(), "digest": torch.from_numpy(digests)}, str(tmp))

    def load(self, name: str, rows: np.ndarray, digests: np.ndarray | None = None) -> torch.Tensor | None:
        """S [len(rows), P, C_s] float16 of the first ``len(rows)`` rows of set ``name``; None when
        the set was not exported. Raises if the stored audio rows are not ``rows`` (``digests``:
        their :meth:`digests`, when the caller already has them)."""
        from safetensors.torch import load_file

        if not self.path(name).exists():
            return None
        stored = load_file(str(self.path(name)))
        n = len(rows)
        if n > len(stored["S"]):
            raise ValueError(f"{self.path(name)} holds S of {len(stored['S'])} rows, {n} asked")
        if not np.array_equal(stored["digest"][:n].numpy(), self.digests(rows) if digests is None else digests):
            raise ValueError(f"{self.path(name)} was computed from other audio than asked (stale features: "
                             "rerun the audiomae stage)")
        return stored["S"][:n]


class TripletMixtures:
    """Mixtures of a triplet set's stored (target, other) int16 pairs [N, 2, L], read per index
    (no copy of the whole set): what AudioMAEFeatures indexes.

    ``m[i]`` -> [L] float32; ``m[idx]`` -> [len(idx), L]; ``m[a:b]`` -> a view (nothing read).
    """

    def __init__(self, audio: np.ndarray):
        self.audio = audio

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.audio), self.audio.shape[-1]

    def __len__(self) -> int:
        return len(self.audio)

    def _rows(self, pairs: np.ndarray) -> np.ndarray:
        return triplet_mixtures(pairs)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(self.audio[idx])
        if isinstance(idx, (int, np.integer)):
            return self._rows(np.asarray(self.audio[idx])[None])[0]
        return self._rows(np.asarray(self.audio[idx]).reshape(-1, *self.audio.shape[1:]))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._rows(np.asarray(self.audio))
        return out if dtype is None else out.astype(dtype)


class QuantisedMixtures(TripletMixtures):
    """The mixtures as int16 (rounded at 32767, as the codec's training reads them), per index."""

    def _rows(self, pairs: np.ndarray) -> np.ndarray:
        return np.round(np.clip(triplet_mixtures(pairs), -1, 1) * 32767).astype(np.int16)


class TripletTargets(TripletMixtures):
    """The targets (first rows) of a triplet set's stored pairs, read per index (int16)."""

    def _rows(self, pairs: np.ndarray) -> np.ndarray:
        return pairs[:, 0, :]


# The sets whose S more than one stage reads (qaudio, acoustic_lm, the three separation stages, evaluate):
# the training and test clips, and the mixtures and targets of the training triplets and the mixed test set.
SHARED_CLIP_SPLITS = ("train", "test")
SHARED_TRIPLET_SETS = (("triplets", "train"), ("testsets", "mixed"))


def clip_feature_name(split: str) -> str:
    return f"clips_{split}"


def triplet_feature_names(directory: str, set_name: str) -> tuple[str, str]:
    """(mixture, target) feature-set names of the triplet set ``<corpus>/<directory>/<set_name>``."""
    return f"{directory}_{set_name}_mixture", f"{directory}_{set_name}_target"


def export_shared_features(model, corpus: str | Path, dest: str | Path, export: bool = True,
                           progress: bool = False) -> dict[str, list[int]]:
    """Compute S of the shared sets with ``model`` (the pretrained AudioMAE) and write them to
    ``dest`` as a :class:`FeatureStore` (whole folder, atomically). Returns name -> shape.
    ``export=False`` (profiles that stream their data) writes the folder with no sets in it."""
    from hsm_lib.io import atomic_folder

    corpus = Path(corpus)
    mean, std = fbank_stats(corpus)
    n_frames = model.cfg.n_frames
    shapes = {}
    with atomic_folder(dest) as tmp:
        store = FeatureStore(tmp)

        def put(name: str, waves, rows: np.ndarray, digests: np.ndarray) -> None:
            S = AudioMAEFeatures(model, waves, n_frames, mean, std, cache=True, progress=progress).cached
            store.save(name, S, rows, digests)
            shapes[name] = list(S.shape)

        for split in SHARED_CLIP_SPLITS if export else ():
            clips = corpus_waves(corpus, split, "clips")
            put(clip_feature_name(split), clips, clips, store.digests(clips))
        for directory, set_name in SHARED_TRIPLET_SETS if export else ():
            audio = TripletSet(corpus / directory, set_name).audio
            mix_name, tgt_name = triplet_feature_names(directory, set_name)
            digests = store.digests(audio)   # one per stored pair: both sets come from the same rows
            put(mix_name, TripletMixtures(audio), audio, digests)
            put(tgt_name, TripletTargets(audio), audio, digests)
        (tmp / "manifest.json").write_text(json.dumps({"shapes": shapes}, indent=1) + "\n")
    return shapes


def shared_triplet_features(store: FeatureStore, directory: str, set_name: str,
                            rows: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(S_mix, S_tgt) of the first ``len(rows)`` triplets of a shared set (``rows`` [n, 2, L], the
    stored pairs), each None where the set was not exported."""
    mix_name, tgt_name = triplet_feature_names(directory, set_name)
    if not store.path(mix_name).exists() and not store.path(tgt_name).exists():
        return None, None
    digests = store.digests(rows)
    return store.load(mix_name, rows, digests), store.load(tgt_name, rows, digests)
