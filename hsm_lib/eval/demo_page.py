"""``reports/demo/index.html``: a listening page of separated examples, one file, no server.

For each test set, the first examples the evaluation kept (:mod:`hsm_lib.eval.examples_store`):
the extraction and removal instructions, and for the mixture, the target and each system an
audio player, a log-mel spectrogram and the per-clip metrics the evaluation scored. The audio is
Opus in Ogg (ffmpeg, 24 kbit/s, bit-exact muxing) and the spectrograms PNG, both inlined as data URIs, so the page
opens from the file system and can be mailed or attached as it is.

A small script records each player's duration (``data-duration``) once its audio has loaded, or
``data-error``: the browser test reads them, and a reader sees the length beside each player.
"""

from __future__ import annotations

import base64
import html
import io
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hsm_lib.eval.examples_store import ExampleSet
from hsm_lib.io import atomic_write_text

OPUS_BITRATE = "24k"   # with 60-dpi spectrograms, the cpu profile's page stays under 5 MB
SHOWN_METRICS = {"kl": "KL ↓", "lsd": "LSD ↓", "psnr": "PSNR ↑", "si_sdri": "SI-SDRi ↑", "clap": "CLAP ↑"}


class FfmpegMissing(RuntimeError):
    """ffmpeg is needed to compress the page's audio."""


def opus_bytes(wave: np.ndarray, sample_rate: int, bitrate: str = OPUS_BITRATE) -> bytes:
    """[T] float audio -> Ogg Opus bytes (ffmpeg's libopus; resampled to 48 kHz by ffmpeg)."""
    if shutil.which("ffmpeg") is None:
        raise FfmpegMissing("the demo page needs ffmpeg to compress its audio (Debian: apt install ffmpeg)")
    pcm = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0).tobytes()
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(sample_rate),
                           "-ac", "1", "-i", "pipe:0", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-c:a", "libopus", "-b:a", bitrate, "-f", "ogg", "pipe:1"],
                          input=pcm, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"ffmpeg could not encode Opus: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def spectrogram_png(wave: np.ndarray, sample_rate: int) -> bytes:
    """A small log-mel spectrogram of [T] audio as PNG bytes (64 bands, 0-8 kHz)."""
    import torch
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=512, hop_length=160, n_mels=64)(
        torch.as_tensor(np.asarray(wave, dtype=np.float32)))
    db = 10 * torch.log10(mel.clamp_min(1e-10))
    fig, ax = plt.subplots(figsize=(2.6, 0.9), dpi=60)
    ax.imshow(db.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=float(db.max()) - 80, vmax=float(db.max()))
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _metrics_cell(metrics: dict[str, float]) -> str:
    shown = [f"{label} {metrics[k]:.2f}" for k, label in SHOWN_METRICS.items() if k in metrics]
    return "<br>".join(shown) if shown else "-"


def _row(label: str, wave: np.ndarray, sample_rate: int, metrics: dict[str, float] | None) -> str:
    audio = _data_uri("audio/ogg", opus_bytes(wave, sample_rate))
    image = _data_uri("image/png", spectrogram_png(wave, sample_rate))
    return (f"<tr><th>{html.escape(label)}</th>"
            f"<td><audio controls preload=\"auto\" src=\"{audio}\"></audio><div class=\"dur\"></div></td>"
            f"<td><img alt=\"log-mel spectrogram of {html.escape(label)}\" src=\"{image}\"></td>"
            f"<td class=\"m\">{_metrics_cell(metrics) if metrics is not None else ''}</td></tr>")


def example_html(s: ExampleSet, i: int) -> str:
    """One example of set ``s``: its instructions and a row per signal."""
    ex = s.examples[i]
    ins = ex["instructions"]
    rows = [_row("mixture (the floor)", s.mixture[i], s.sample_rate, ex["metrics"].get("mixture")),
            _row(f"target: {ex['target_caption']}", s.target[i], s.sample_rate, None)]
    rows += [_row(system, s.outputs[system][i], s.sample_rate, ex["metrics"].get(system)) for system in s.systems]
    return (f"<section class=\"ex\"><h3>{html.escape(s.name)} · example {i + 1} <small>({html.escape(str(ex['id']))})"
            f"</small></h3><p>extraction: <q>{html.escape(ins['extraction']['text'])}</q><br>"
            f"removal: <q>{html.escape(ins['removal']['text'])}</q></p>"
            f"<table><tr><th></th><th>listen</th><th>log-mel</th><th>metrics vs target</th></tr>{''.join(rows)}</table></section>")


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}td.m{font-size:85%}
img{display:block}audio{width:260px}.dur{font-size:75%;color:#666}section.ex{margin-bottom:2em}q{font-style:italic}"""

# Record each player's duration (or its error) on the element, for readers and for the browser test.
SCRIPT = """for (const a of document.querySelectorAll('audio')) {
  const show = () => { a.dataset.duration = a.duration.toFixed(2); a.nextElementSibling.textContent = a.duration.toFixed(1) + ' s'; };
  if (a.readyState >= 1) show(); else a.addEventListener('loadedmetadata', show);
  a.addEventListener('error', () => { a.dataset.error = String(a.error && a.error.code); });
}"""


def write_demo_page(path: Path, sets: Sequence[ExampleSet], profile: str, per_set: int) -> Path:
    """Write the page for the first ``per_set`` examples of each set, atomically. Returns ``path``."""
    body = [f"<h1>HSM-TSS companion: listening examples ({html.escape(profile)} profile)</h1>",
            "<p>Each example is a test triplet: a mixture of a target and another sound, and an instruction to "
            "extract the target or to remove the other sound. Both instructions should give back the target. "
            "Metrics compare each output with the target (KL and CLAP: the stand-in tagger and the evaluation CLAP; "
            "see <code>reports/README.md</code>). Audio: Opus at 24 kbit/s.</p>",
            "<p>Sets: " + ", ".join(f"<a href=\"#{html.escape(s.name)}\">{html.escape(s.name)}</a>" for s in sets) + "</p>"]
    for s in sets:
        body.append(f"<h2 id=\"{html.escape(s.name)}\">{html.escape(s.name)}</h2>")
        body += [example_html(s, i) for i in range(min(per_set, len(s)))]
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>HSM-TSS listening examples</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}<script>{SCRIPT}</script></body></html>\n")
    atomic_write_text(path, page)
    return path
