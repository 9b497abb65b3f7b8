"""The separator people use: instruction + recording in, separated recording out.

    sep = Separator.from_pretrained("data/cpu/models")
    out = sep.separate(wave, sr, "remove the dog barking")   # same rate and length as ``wave``

The pipeline (paper Fig. 2): parse the instruction -> fbank -> AudioMAE (S_mix) -> Q-Audio
(G_mix, and the caption's text features) -> H1 (Ĝ) -> H2 (Ŝ) -> acoustic LM (codec tokens)
-> codec decoder. Inputs of any length are cut into overlapping windows of the model's clip
length and separated as batches. Two ways of joining them (``join``):

- ``"waveform"``: decode each window alone and overlap-add the waveforms with raised-cosine
  crossfades;
- ``"tokens"``: each window keeps its codec tokens from the middle of its leading overlap to the
  middle of its trailing one, and the codec decodes the whole recording's tokens at once, so its
  decoder (and its phase) runs on across every join.

``"auto"`` (the default) picks by measurement (the evaluate stage's long-recording table, and
the closing note of issue 14): tokens for the autoregressive LM, whose windows' generations of
the same overlap differ (on 30 repeated 10-s mixtures, whole-clip LSD 2.69 with waveform joins
and 2.29 with token joins, against 2.34 for 4-s clips); waveform for the deterministic
non-autoregressive decoder, whose overlaps agree (no join cost either way; tokens scored a
slightly lower mel-PSNR).

A checkpoint directory holds one folder per model (``model.safetensors`` + ``config.json``)
and ``separator.json``, which names the folders and the front end's statistics; the pipeline's
``joint_ft`` stage writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import torch

from hsm_lib.audio import SAMPLE_RATE, window_starts  # noqa: F401 (window_starts: part of this module's API)
from hsm_lib.checkpoint import CheckpointError
from hsm_lib.checkpoint_location import MANIFEST
from hsm_lib.registry import load_model

if TYPE_CHECKING:
    from hsm_lib.text.instructions import Instruction

JOINS = ("auto", "tokens", "waveform")


def write_manifest(directory: str | Path, components: dict[str, str], fbank_mean: float, fbank_std: float,
                   clip_samples: int, text_backbone: str, sampling: dict) -> Path:
    """``separator.json``: which folder holds which model, and what the front end needs."""
    from hsm_lib.io import atomic_write_text

    path = Path(directory) / MANIFEST
    atomic_write_text(path, json.dumps({"components": components, "fbank_mean": fbank_mean, "fbank_std": fbank_std,
                                        "clip_samples": clip_samples, "sample_rate": SAMPLE_RATE,
                                        "text_backbone": text_backbone, "sampling": sampling}, indent=1))
    return path


# --- overlap-add ----------------------------------------------------------------------------------

def crossfade_weights(window: int, overlap: int) -> np.ndarray:
    """[window] weights rising over the first ``overlap`` samples and falling over the last
    (raised cosine); overlapping windows' weights are normalised by their sum, so the joins
    are smooth and a constant signal stays constant."""
    w = np.ones(window, dtype=np.float64)
    if overlap > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        w[:overlap], w[window - overlap:] = ramp, ramp[::-1]
    return w


def padded_windows(wave: np.ndarray, window: int, overlap: int) -> tuple[list[int], np.ndarray]:
    """Starts of the overlapping windows that cover ``wave`` [T], and ``wave`` zero-padded to
    the end of the last one (short inputs make one window, never none)."""
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must lie in [0, {window}), got {overlap}")
    starts = window_starts(len(wave), window, window - overlap)
    padded = np.zeros(starts[-1] + window, dtype=np.float32)
    padded[:len(wave)] = wave
    return starts, padded


def crossfaded_sum(placed: Iterable[tuple[int, np.ndarray]], total: int, window: int, overlap: int,
                   last_start: int) -> np.ndarray:
    """Join pieces [window], each placed at its start sample, into one signal [total] (float64):
    raised-cosine crossfades over each ``overlap``, normalised by the summed weights, the first
    piece (start 0) and the last (``last_start``) keeping their outer edges. ``placed`` is consumed
    as it comes, so a long recording's pieces need never all be in memory."""
    weights = crossfade_weights(window, overlap)
    out, norm = np.zeros(total, dtype=np.float64), np.zeros(total, dtype=np.float64)
    for s, piece in placed:
        w = weights.copy()
        if s == 0:
            w[:overlap] = 1.0   # nothing before the first window to fade from
        if s == last_start:
            w[window - overlap:] = 1.0
        out[s:s + window] += w * piece
        norm[s:s + window] += w
    return out / norm


def overlap_add(wave: np.ndarray, window: int, overlap: int, process: Callable[[np.ndarray], np.ndarray],
                batch_size: int = 8, progress: Callable | None = None) -> np.ndarray:
    """Run ``process`` ([W, window] -> [W, window]) on overlapping windows of ``wave`` [T] and
    join the results: [T]. Short inputs are zero-padded to one window, never dropped."""
    starts, padded = padded_windows(wave, window, overlap)
    chunks = range(0, len(starts), batch_size)

    def placed():
        for i in (progress(chunks) if progress else chunks):
            group = starts[i:i + batch_size]
            result = np.asarray(process(np.stack([padded[s:s + window] for s in group])))
            if result.shape != (len(group), window):
                raise ValueError(f"process returned {result.shape}, expected {(len(group), window)}")
            yield from zip(group, result)

    return crossfaded_sum(placed(), len(padded), window, overlap, starts[-1])[:len(wave)].astype(np.float32)


def splice_windows(pieces: torch.Tensor, starts: list[int], overlap: int) -> torch.Tensor:
    """Join per-window token sequences [W, F, G] whose windows start at frames ``starts`` (each
    ``F - overlap`` after the last) into one sequence [starts[-1] + F, G]: window k keeps the
    frames from the middle of its overlap with window k - 1 to the middle of its overlap with
    window k + 1 (the first and last windows keep their outer edges)."""
    w, f = pieces.shape[:2]
    if len(starts) != w:
        raise ValueError(f"{w} windows but {len(starts)} starts")
    if not 0 <= overlap < f:
        raise ValueError(f"overlap must lie in [0, {f}), got {overlap}")
    out = pieces.new_zeros((starts[-1] + f, *pieces.shape[2:]))
    lead, trail = overlap // 2, overlap - overlap // 2     # of each overlap, the earlier window keeps `lead` frames, the later `trail`
    for k, s in enumerate(starts):
        a = 0 if k == 0 else lead
        b = f if k == w - 1 else f - trail
        out[s + a: s + b] = pieces[k, a:b]
    return out


def decode_in_chunks(codec: torch.nn.Module, tokens: torch.Tensor, chunk: int = 3000, overlap: int = 50) -> np.ndarray:
    """Codec tokens of a whole recording [T, G] -> waveform [T * hop].

    Up to ``chunk`` frames (60 s at 50 Hz): one decode, so the decoder, and the vocoder head's
    running phase, go on unbroken across every window join. Longer recordings are decoded in
    chunks of ``chunk`` frames overlapping by ``overlap`` and crossfaded (raised cosine), so memory
    stays bounded; only those rare chunk joins are waveform joins."""
    hop, t = codec.cfg.hop, len(tokens)
    with torch.no_grad():
        if t <= chunk:
            return codec.decode(tokens[None])[0].float().cpu().numpy()
        starts = window_starts(t, chunk, chunk - overlap)
        starts[-1] = t - chunk                      # the last chunk ends at the end (it overlaps more)
        placed = ((s * hop, codec.decode(tokens[s:s + chunk][None])[0].float().cpu().numpy()) for s in starts)
        return crossfaded_sum(placed, t * hop, chunk * hop, overlap * hop, starts[-1] * hop).astype(np.float32)


# --- the separator --------------------------------------------------------------------------------

def load_parser(directory: str | Path, backbone=None):
    """The hybrid instruction parser if ``directory`` holds a trained one (the ``parser`` stage's
    ``instruction_parser`` folder), else None (the rules alone). ``backbone``: a loaded MiniLM to share."""
    from hsm_lib.text.learned_parser import FOLDER, HybridParser, LearnedParser

    folder = Path(directory) / FOLDER
    return HybridParser(LearnedParser.load(folder, backbone)) if folder.is_dir() else None


@dataclass
class Separator:
    """Every stage of HSM-TSS, frozen, on one device."""

    audiomae: torch.nn.Module
    qaudio: torch.nn.Module
    h1: torch.nn.Module
    h2: torch.nn.Module
    acoustic_lm: torch.nn.Module
    codec: torch.nn.Module
    backbone: object
    fbank_mean: float
    fbank_std: float
    clip_samples: int
    sampling: dict
    device: torch.device
    overlap_seconds: float = 1.0
    batch_size: int = 4
    seed: int = 0
    join: str = "auto"              # "tokens", "waveform" or "auto" (see the module's docstring)
    parser: Callable | None = None  # text -> Instruction; None: the rules. from_pretrained sets the hybrid

    def __post_init__(self) -> None:
        if self.join not in JOINS:
            raise ValueError(f"join must be one of {', '.join(JOINS)}, got {self.join!r}")

    @property
    def overlap_samples(self) -> int:
        """Consecutive windows' overlap: ``overlap_seconds`` rounded to whole codec frames (so that
        windows' tokens line up), at most half a window."""
        hop = self.codec.cfg.hop
        return min(round(self.overlap_seconds * SAMPLE_RATE / hop), self.clip_samples // hop // 2) * hop

    @property
    def join_method(self) -> str:
        """``join`` with "auto" resolved: tokens for the autoregressive LM, waveform otherwise."""
        from hsm_lib.models.acoustic_lm import AcousticLM

        if self.join != "auto":
            return self.join
        return "tokens" if isinstance(self.acoustic_lm, AcousticLM) else "waveform"

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str = "auto", **kwargs) -> "Separator":
        """Load every model named by ``directory/separator.json`` onto ``device`` ("auto": a GPU if
        torch sees one, else the CPU). ``kwargs`` set the fields after ``device`` (overlap_seconds,
        batch_size, seed, join)."""
        from hsm_lib.text.backbone import TextBackbone
        from hsm_lib.train.common import resolve_device

        directory = Path(directory)
        if not directory.is_dir():
            raise CheckpointError(f"checkpoint directory '{directory}' does not exist")
        manifest = directory / MANIFEST
        if not manifest.is_file():
            raise CheckpointError(f"checkpoint directory '{directory}' is incomplete: {MANIFEST} is missing "
                                  "(the pipeline's joint_ft stage writes it)")
        meta = json.loads(manifest.read_text())
        dev = resolve_device(device)
        models = {kind: load_model(directory / folder, dev) for kind, folder in meta["components"].items()}
        missing = {"audiomae", "qaudio", "h1", "h2", "acoustic_lm", "codec"} - set(models)
        if missing:
            raise CheckpointError(f"{manifest} names no folder for {sorted(missing)}")
        backbone = TextBackbone(meta["text_backbone"])
        backbone.encoder.to(dev)
        kwargs.setdefault("parser", load_parser(directory, backbone if meta["text_backbone"] == "minilm" else None))
        return cls(models["audiomae"], models["qaudio"], models["h1"], models["h2"], models["acoustic_lm"],
                   models["codec"], backbone, meta["fbank_mean"], meta["fbank_std"], meta["clip_samples"],
                   meta["sampling"], dev, **kwargs)

    # -- one batch of windows --

    @torch.no_grad()
    def separate_windows(self, windows: np.ndarray, task: str, caption: str,
                         generator: torch.Generator | None = None) -> np.ndarray:
        """[W, clip_samples] float32 mixtures at 16 kHz -> [W, clip_samples] separated."""
        return self.decode(self.local_features(windows, task, caption), generator)

    @torch.no_grad()
    def local_features(self, windows: np.ndarray, task: str, caption: str) -> torch.Tensor:
        """The two semantic stages: [W, clip_samples] mixtures -> Ŝ [W, P, C_s]."""
        from hsm_lib.features import fbanks
        from hsm_lib.models.nar import Conditioning

        dev, w = self.device, len(windows)
        fb = fbanks(windows, self.audiomae.cfg.n_frames, self.fbank_mean, self.fbank_std, torch.float32).to(dev)
        s_mix = self.audiomae.features(fb)                                   # [W, P, C_s]
        g_mix = self.qaudio.audio_features(s_mix)                            # [W, 1, C_g]
        text = self.backbone.encode([caption])
        cap = self.qaudio.text_features(text.tokens.to(dev), text.mask.to(dev))
        cap_mask = torch.cat([torch.ones_like(text.mask[:, :1]), text.mask], 1).to(dev)
        task_tok = self.backbone.task_tokens(task).float().to(dev)[None]
        cond = Conditioning(task_tok.expand(w, -1, -1), torch.ones(w, task_tok.shape[1], dtype=torch.bool, device=dev),
                            cap.expand(w, -1, -1), cap_mask.expand(w, -1))
        g_hat = self.h1(g_mix, cond)[:, 0]                                   # Ĝ [W, C_g]
        return self.h2(s_mix, Conditioning(cond.task, cond.task_mask, cond.text, cond.text_mask, g_hat))

    @torch.no_grad()
    def tokens(self, s_hat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The acoustic decoder H3's first half: Ŝ [W, P, C_s] -> codec tokens [W, F, G] (the LM, or
        the non-autoregressive decoder), F the clip's frames."""
        frames = -(-self.clip_samples // self.codec.cfg.hop)
        tokens, _ = self.acoustic_lm.generate(s_hat, frames, temperature=self.sampling["temperature"],
                                              top_k=self.sampling["top_k"], generator=generator,
                                              stop_at_end=False)   # exactly `frames` frames: the clip's length
        return tokens

    @torch.no_grad()
    def decode(self, s_hat: torch.Tensor, generator: torch.Generator | None = None) -> np.ndarray:
        """The acoustic decoder H3: Ŝ [W, P, C_s] -> codec tokens -> codec -> [W, clip_samples]."""
        return self.codec.decode(self.tokens(s_hat, generator))[:, : self.clip_samples].float().cpu().numpy()

    # -- any recording --

    def separate(self, wave: np.ndarray, sr: int, instruction: "str | Instruction",
                 progress: bool | str = False) -> np.ndarray:
        """A recording ([T] mono or [T, C]; any rate) and an instruction (text, or an already parsed
        :class:`~hsm_lib.text.instructions.Instruction`) -> the separated sound, mono [T] at ``sr``.
        Multichannel input is mixed down first. ``progress``: a bar over the windows (a string
        is its label). Non-finite samples are an error: they would come out as silence or noise."""
        from tqdm.auto import tqdm

        from hsm_lib.audio import AudioError, resample, to_mono
        from hsm_lib.text.instructions import Instruction, parse_instruction

        parsed = instruction if isinstance(instruction, Instruction) else parse_instruction(instruction, self.parser)
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim not in (1, 2) or wave.shape[0] == 0:
            raise AudioError(f"expected audio [T] or [T, channels] with T > 0, got shape {list(wave.shape)}")
        if not np.isfinite(wave).all():
            raise AudioError(f"{int((~np.isfinite(wave)).sum())} samples are not finite (NaN or inf)")
        mono = to_mono(wave)
        x = resample(mono, int(sr), SAMPLE_RATE)
        label = progress if isinstance(progress, str) else "windows"
        bar = (lambda r: tqdm(r, desc=label, leave=False, unit="batch")) if progress else None
        y = self.separate_16k(x, parsed.task, parsed.caption, bar)
        out = resample(y, SAMPLE_RATE, int(sr))
        return np.pad(out, (0, max(0, len(mono) - len(out))))[: len(mono)]

    def separate_16k(self, x: np.ndarray, task: str, caption: str, progress: Callable | None = None) -> np.ndarray:
        """A parsed instruction on a 16-kHz mono recording [T] -> the separated sound [T], its
        windows joined as ``self.join_method`` says."""
        gen = torch.Generator().manual_seed(self.seed)
        hop, overlap = self.codec.cfg.hop, self.overlap_samples
        if self.join_method == "waveform":
            return overlap_add(x, self.clip_samples, overlap,
                               lambda w: self.separate_windows(w, task, caption, gen), self.batch_size, progress)
        if self.clip_samples % hop:
            raise ValueError(f"token joins need a clip of whole codec frames: {self.clip_samples} samples, hop {hop}")
        starts, padded = padded_windows(x, self.clip_samples, overlap)
        chunks = range(0, len(starts), self.batch_size)
        pieces = []
        for i in (progress(chunks) if progress else chunks):
            windows = np.stack([padded[s:s + self.clip_samples] for s in starts[i:i + self.batch_size]])
            pieces.append(self.tokens(self.local_features(windows, task, caption), gen))
        tokens = splice_windows(torch.cat(pieces), [s // hop for s in starts], overlap // hop)
        return decode_in_chunks(self.codec, tokens)[:len(x)]
