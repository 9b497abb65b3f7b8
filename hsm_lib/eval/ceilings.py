"""Stage ceilings of the generative path (DESIGN.md "Ceilings"): how good can a separated output
be, at best, once it goes through the acoustic decoder?

* codec resynthesis: the target through encode -> decode (the best any generative output can be);
* target S -> acoustic LM -> codec decoder (the best H3 can do from perfect local features).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from hsm_lib.eval.metrics import lsd, mel_psnr, si_sdr, visqol

METRICS = ("lsd", "mel_psnr", "si_sdr", "visqol")


def score_outputs(outputs: np.ndarray, references: np.ndarray, visqol_clips: int, progress: bool = False) -> dict[str, list[float]]:
    """Per-clip LSD, mel-PSNR, SI-SDR (all clips) and ViSQOL (first ``visqol_clips``)."""
    scores: dict[str, list[float]] = {m: [] for m in METRICS}
    for i in tqdm(range(len(references)), desc="metrics", disable=not progress, leave=False):
        scores["lsd"].append(lsd(outputs[i], references[i]))
        scores["mel_psnr"].append(mel_psnr(outputs[i], references[i]))
        scores["si_sdr"].append(si_sdr(outputs[i], references[i]))
        if i < visqol_clips:
            scores["visqol"].append(visqol(outputs[i], references[i]))
    return scores


def ceilings(references: np.ndarray, systems: dict[str, Callable[[np.ndarray], np.ndarray]], visqol_clips: int,
             progress: bool = True) -> dict[str, dict[str, list[float]]]:
    """Run each system on ``references`` [N, T] (it returns [N, T] reconstructions) and score it."""
    return {name: score_outputs(run(references), references, visqol_clips, progress) for name, run in systems.items()}


def write_ceilings(scores: dict[str, dict[str, list[float]]], profile: str, n_clips: int, visqol_clips: int,
                   notes: Sequence[str] = (), data: dict | None = None) -> None:
    """``reports/ceilings_acoustic.{md,json}``; ``data`` adds entries to the JSON."""
    from hsm_lib.reporting import write_table

    rows = [[name, *(float(np.mean(s[m])) if s[m] else float("nan") for m in METRICS)] for name, s in scores.items()]
    write_table(
        "ceilings_acoustic", f"Ceilings of the acoustic decoder on the mixed test set's targets ({profile} profile)",
        ["path", "LSD (lower)", "mel-PSNR dB (higher)", "SI-SDR dB (higher)", "ViSQOL (higher)"], rows, digits=2,
        notes=[f"{n_clips} targets of the mixed test set; ViSQOL on the first {visqol_clips}. These bound what the "
               "generative path can deliver: they explain a separation result, they are not one.",
               "SI-SDR is phase-sensitive: a generative decoder that gets the sound right but not its waveform "
               "scores low on it by construction.",
               *notes],
        data={"profile": profile, "clips": n_clips, "visqol_clips": visqol_clips, **(data or {}), "per_clip": scores},
    )
