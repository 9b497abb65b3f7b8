"""Stage ceilings of the generative path (DESIGN.md "Ceilings"): how good can a separated output
be, at best, once it goes through the acoustic decoder?

* codec resynthesis: the target through encode -> decode (the best any generative output can be);
* target S -> acoustic decoder (H3: the LM, or the cpu profile's non-autoregressive stand-in) -> codec
  decoder (the best H3 can do from perfect local features).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from hsm_lib.eval.stats import bootstrap_ci
from hsm_lib.eval.metrics import lsd, mel_psnr, si_sdr, visqol_many
from hsm_lib.eval.tagger import embedding_cosine, kl_divergence

METRICS = ("lsd", "mel_psnr", "si_sdr", "visqol")
TAGGER_METRICS = ("kl", "cos")
HEADERS = {"kl": "KL (lower)", "cos": "embedding cosine (higher)", "lsd": "LSD (lower)", "mel_psnr": "mel-PSNR dB (higher)",
           "si_sdr": "SI-SDR dB (higher)", "visqol": "ViSQOL (higher)"}
Tagger = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def score_outputs(outputs: np.ndarray, references: np.ndarray, visqol_clips: int, progress: bool = False) -> dict[str, list[float]]:
    """Per-clip LSD, mel-PSNR, SI-SDR (all clips) and ViSQOL (first ``visqol_clips``)."""
    scores: dict[str, list[float]] = {m: [] for m in METRICS}
    for i in tqdm(range(len(references)), desc="metrics", disable=not progress, leave=False):
        scores["lsd"].append(lsd(outputs[i], references[i]))
        scores["mel_psnr"].append(mel_psnr(outputs[i], references[i]))
        scores["si_sdr"].append(si_sdr(outputs[i], references[i]))
    scores["visqol"] = visqol_many(outputs[:visqol_clips], references[:visqol_clips])   # one process per core
    return scores


def ceilings(references: np.ndarray, systems: dict[str, Callable[[np.ndarray], np.ndarray]], visqol_clips: int,
             progress: bool = True, tagger: Tagger | None = None) -> dict[str, dict[str, list[float]]]:
    """Run each system on ``references`` [N, T] (it returns [N, T] reconstructions) and score it;
    with ``tagger`` (embeddings, log-probs of [N, T] audio) also the tagger's KL and embedding cosine."""
    ref_tags = tagger(references) if tagger is not None else None
    out = {}
    for name, run in systems.items():
        outputs = run(references)
        out[name] = score_outputs(outputs, references, visqol_clips, progress)
        if ref_tags is not None:
            emb, logp = tagger(outputs)
            out[name]["kl"] = kl_divergence(ref_tags[1], logp).tolist()
            out[name]["cos"] = embedding_cosine(ref_tags[0], emb).tolist()
    return out


def write_ceilings(scores: dict[str, dict[str, list[float]]], profile: str, n_clips: int, visqol_clips: int,
                   notes: Sequence[str] = (), data: dict | None = None) -> None:
    """``reports/ceilings_acoustic.{md,json}``; ``data`` adds entries to the JSON."""
    from hsm_lib.reporting import write_table

    metrics = [m for m in (*TAGGER_METRICS, *METRICS) if all(s.get(m) for s in scores.values())]   # ViSQOL: 0 clips -> no column
    cell = lambda v: "nan" if not v else (bootstrap_ci(v).format(2) if len(v) > 1 else f"{v[0]:.2f}")
    rows = [[name, *(cell(s[m]) for m in metrics)] for name, s in scores.items()]
    write_table(
        "ceilings_acoustic", f"Ceilings of the acoustic decoder on the mixed test set's targets ({profile} profile)",
        ["path", *(HEADERS[m] for m in metrics)], rows, digits=2,
        notes=[f"{n_clips} targets of the mixed test set; " + (f"ViSQOL on the first {visqol_clips}; " if visqol_clips else "")
               + "mean [95 % bootstrap confidence "
               "interval over clips]. KL and cosine: the aisfx tagger (UCS head), as in Tables II-III. "
               "These bound what the generative path can deliver: they explain a separation result, they are not one.",
               "SI-SDR is phase-sensitive: a generative decoder that gets the sound right but not its waveform "
               "scores low on it by construction.",
               *notes],
        data={"profile": profile, "clips": n_clips, "visqol_clips": visqol_clips, **(data or {}), "per_clip": scores},
    )
