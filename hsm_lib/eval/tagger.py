"""An independent pretrained tagger for the semantic metrics: ``aisfx`` (ISMIR 2022).

The paper computes KL with an AudioSet tagger (PANNs) and AFSim with Audio Flamingo
embeddings; neither can be had offline. ``aisfx`` ships its weights in its wheel: a 6.2M-
parameter sound-effects CNN with a 512-d embedding and UCS-category heads. We use

* KL: between the softmax posteriors of the ``ucsMixed`` head (69 UCS categories) of the
  reference and of the estimate;
* an AFSim stand-in: the cosine between the two 512-d embeddings.

The front end follows the package (its librosa path, reimplemented with torchaudio so that
librosa is not needed): 44.1 kHz, peak-normalised audio, 2048-sample windows, hop 1024, 96
HTK mel bands (0-22050 Hz) with filters normalised to unit sum, power spectrum,
``log10(1e4 · mel + 1)``, min-max normalised with the paper's (0, 9.4578). The network
max-pools over time, so a whole clip is one input.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torchaudio

from hsm_lib.audio import SAMPLE_RATE

TAGGER_RATE = 44100  # aisfx's own front end runs at 44.1 kHz
N_FFT, HOP, N_MELS = 2048, 1024, 96
NORM_MAX = 9.457798957824707
HEAD = "ucsMixed"


@lru_cache(maxsize=1)
def _filterbank() -> torch.Tensor:
    fb = torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, 0.0, TAGGER_RATE / 2, N_MELS, TAGGER_RATE,
                                              norm=None, mel_scale="htk")   # [freqs, mels]
    return fb / fb.sum(0, keepdim=True).clamp_min(1e-12)                     # librosa's norm=1: unit-sum filters


def spectrogram(waves: np.ndarray, sr: int = SAMPLE_RATE) -> torch.Tensor:
    """[N, T] audio at ``sr`` -> [N, frames, 96] normalised log-mel, the tagger's input."""
    x = torch.as_tensor(np.asarray(waves, dtype=np.float32))
    x = torchaudio.functional.resample(x, sr, TAGGER_RATE)
    peak = x.abs().amax(-1, keepdim=True)
    x = x / torch.where(peak > 0, peak, torch.ones_like(peak))
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, return_complex=True).abs() ** 2
    mel = (spec.transpose(1, 2) @ _filterbank())                           # [N, frames, 96]
    return torch.log10(mel * 1e4 + 1) / NORM_MAX


def _numpy_scalar_types() -> list:
    """The numpy types a pickled numpy scalar needs, for ``torch.load(weights_only=True)``."""
    core = getattr(np, "_core", None) or np.core          # numpy 2 moved it; pickles still name numpy.core
    return [(core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype,
            *(getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType"))]


def fold_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Fold each aisfx ``ConvBlock``'s batch norms (``bn1``, ``bn2``) into the convolutions before
    them (``conv1``, ``conv2``), in place; the model is put in eval mode, as folding needs."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for block in model.modules():
        if all(hasattr(block, n) for n in ("conv1", "bn1", "conv2", "bn2")) and isinstance(block.bn1, torch.nn.BatchNorm2d):
            block.conv1, block.bn1 = fuse_conv_bn_eval(block.conv1, block.bn1), torch.nn.Identity()
            block.conv2, block.bn2 = fuse_conv_bn_eval(block.conv2, block.bn2), torch.nn.Identity()
    return model


class Tagger:
    """The aisfx network, loaded from the installed package only (its checkpoint is a pickle)."""

    def __init__(self, device: str = "cpu"):
        try:
            from aisfx.inference import get_path_modelWeights, load_bestModel
        except ImportError as exc:  # pragma: no cover - the environment pins it
            raise ImportError("the semantic metrics need the `aisfx` package (pip install --no-deps aisfx)") from exc
        # The checkpoint (the aisfx package's own shipped file) is a pickle of (state_dict, ds_dict)
        # whose ds_dict holds numpy scalars: allow exactly those types, and nothing else.
        with torch.serialization.safe_globals(_numpy_scalar_types()):
            weights, ds_dict = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=True)
        # Channels-last convolution weights, each batch norm folded into the convolution before it
        # (eval mode): the same arithmetic (outputs within 1e-5). Channels-last is 1.38x faster on 2
        # cores (64 clips of 4 s: 3.75 -> 2.72 s), the folding a further 1.14x (16 clips of 4 s:
        # 0.69 -> 0.60 s), each measured in one run. The tagger is 11 % of the cpu pipeline's time.
        self.model = fold_batch_norms(load_bestModel(weights, ds_dict, device)).to(memory_format=torch.channels_last)
        self.device = device
        self.classes = int(ds_dict[HEAD][1])

    @torch.no_grad()
    def __call__(self, waves: np.ndarray, sr: int = SAMPLE_RATE, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """[N, T] audio -> (embeddings [N, 512], log-posteriors [N, 69] of the ucsMixed head)."""
        embs, logps = [], []
        for i in range(0, len(waves), batch_size):
            spec = spectrogram(waves[i:i + batch_size], sr).to(self.device)
            emb, logits = self.model(spec, HEAD)
            embs.append(emb.cpu())
            logps.append(torch.log_softmax(logits, -1).cpu())
        return torch.cat(embs).numpy(), torch.cat(logps).numpy()


@lru_cache(maxsize=1)
def default_tagger() -> Tagger:
    return Tagger()


def kl_divergence(logp_ref: np.ndarray, logp_est: np.ndarray) -> np.ndarray:
    """KL(p_ref || p_est) per clip, summed over classes (audioldm_eval's direction: target first)."""
    p = np.exp(logp_ref)
    return (p * (logp_ref - logp_est)).sum(-1)


def embedding_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two [N, D] embedding sets (the AFSim stand-in)."""
    num = (a * b).sum(-1)
    return num / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
