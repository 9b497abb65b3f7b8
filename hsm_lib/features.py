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
           progress: bool = False, desc: str = "fbank") -> torch.Tensor:
    """[N, L] waves (int16 or float) -> [N, n_frames, 128] normalised log-mel, stored as ``dtype``
    (float16 halves the memory of a cached training set; models upcast per batch)."""
    out = torch.empty(len(waves), n_frames, 128, dtype=dtype)
    for i in tqdm(range(len(waves)), desc=desc, disable=not progress, leave=False):
        out[i] = normalise_fbank(fbank(to_float(waves[i]), n_frames), mean, std).to(dtype)
    return out


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 32,
            device: str | torch.device = "cpu", progress: bool = False, desc: str = "encode") -> torch.Tensor:
    """Apply ``fn`` to ``x`` [N, ...] in batches (float32 on ``device``); results on the CPU."""
    outs = []
    for i in tqdm(range(0, len(x), batch_size), desc=desc, disable=not progress, leave=False):
        outs.append(fn(x[i:i + batch_size].to(device, torch.float32)).cpu())
    return torch.cat(outs) if outs else torch.empty(0)


def corpus_waves(corpus: str | Path, split: str, kind: str = "clips") -> np.ndarray:
    """Stored audio of one split: ``kind`` "clips" -> [N, L] int16 source clips (memory-mapped);
    "mixtures" -> [N, L] float32 mixtures of the split's triplets."""
    corpus = Path(corpus)
    if kind == "clips":
        return np.load(corpus / "clips" / f"{split}.npy", mmap_mode="r")
    if kind == "mixtures":
        return triplet_mixtures(np.load(corpus / "triplets" / f"{split}.npy", mmap_mode="r"))
    raise ValueError(f"kind must be 'clips' or 'mixtures', got {kind!r}")


def corpus_fbanks(corpus: str | Path, split: str, kinds: tuple[str, ...], n_frames: int, limit: int | None = None,
                  progress: bool = False) -> torch.Tensor:
    """Normalised fbanks [N, n_frames, 128] (float16) of ``kinds`` of ``split``, concatenated."""
    mean, std = fbank_stats(corpus)
    parts = []
    for kind in kinds:
        waves = corpus_waves(corpus, split, kind)[:limit]
        parts.append(fbanks(waves, n_frames, mean, std, progress=progress, desc=f"fbank {split} {kind}"))
    return torch.cat(parts)


class AudioMAEFeatures:
    """S of a set of stored clips, computed per batch (``cache=False``, for corpora too big to
    hold, e.g. the paper's 230k clips) or once up front and kept as float16 (``cache=True``).

    ``features[idx]`` -> [len(idx), P, C_s] float32 on the model's device, either way.
    """

    def __init__(self, model, waves: np.ndarray, n_frames: int, mean: float, std: float, cache: bool = True,
                 batch_size: int = 32, progress: bool = False, precomputed: torch.Tensor | None = None):
        self.model, self.waves, self.n_frames, self.mean, self.std = model.eval(), waves, n_frames, mean, std
        self.device = next(model.parameters()).device
        self.cached: torch.Tensor | None = None
        if precomputed is not None:
            # S the audiomae stage already computed for these waves (FeatureStore): nothing to redo
            if len(precomputed) != len(waves):
                raise ValueError(f"precomputed S has {len(precomputed)} rows for {len(waves)} waves")
            self.cached = precomputed.to(torch.float16)
        elif cache:
            self.cached = torch.cat([self._compute(np.arange(i, min(i + batch_size, len(waves))))
                                     for i in tqdm(range(0, len(waves), batch_size), desc="AudioMAE features",
                                                   disable=not progress, leave=False)]).to(torch.float16)

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
    (no copy of the whole set): what AudioMAEFeatures indexes."""

    def __init__(self, audio: np.ndarray):
        self.audio = audio

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, idx):
        return triplet_mixtures(np.asarray(self.audio[idx]).reshape(-1, *self.audio.shape[1:]))


class TripletTargets(TripletMixtures):
    """The targets (first rows) of a triplet set's stored pairs, read per index."""

    def __getitem__(self, idx):
        return np.asarray(self.audio[idx])[..., 0, :]


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
            audio = np.load(corpus / directory / f"{set_name}.npy", mmap_mode="r")
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
