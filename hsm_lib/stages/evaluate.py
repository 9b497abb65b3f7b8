"""Stage ``evaluate``: every system on every test set (paper Sec. V-A-C: Tables II-IV, the
ceilings).

Each test triplet is separated with its extraction and its removal instruction by Ours and
Ours_single (the baseline takes the extraction instruction), every output is scored against the
target, and the tables ``table2_objective``, ``table3_semantic``, ``table4_zero_shot``,
``ceilings`` and ``paper_reference`` are written. The first ``keep_examples`` triplets of every
set are kept with their outputs and per-clip metrics (data/<profile>/examples), from which the
``figures`` stage draws Fig. 7 and the ``demo`` stage builds the listening page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.config import profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval import long_form, paper_tables
from hsm_lib.eval.calibration import CALIBRATION, MIXTURE
from hsm_lib.eval.evaluate import (BASELINE, CEILINGS, SYSTEMS, Judges, mean_table, ordering_records, ordering_rows,
                                   own_caption_rate, score, separate_set)
from hsm_lib.eval.examples_store import ExampleSet, examples_dir, load_example_sets, save_example_set
from hsm_lib.eval.metrics import Reference
from hsm_lib.eval.stats import bootstrap_ci
from hsm_lib.eval.tagger import default_tagger
from hsm_lib.features import fbank_stats
from hsm_lib.io import atomic_folder
from hsm_lib.pipeline import Separator
from hsm_lib.registry import load_model
from hsm_lib.reporting import write_table
from hsm_lib.text.instructions import parse_instruction
from hsm_lib.train.separation import SeparationExamples

ZERO_SHOT = "music_synth"
OOD = "ood"
GROUND_TRUTH = "ground truth (target)"
OBJECTIVE = ("kl", "lsd", "psnr", "si_sdri")
# The systems whose outputs are kept for the figures and the listening page (with the mixture and target).
KEPT = ("Ours (extraction)", "Ours (removal)", "Ours_single (extraction)", "Ours_single (removal)", BASELINE)
PerClip = dict[str, dict[str, dict[str, np.ndarray]]]  # test set -> system -> metric -> [n_triplets]


@dataclass
class _Systems:
    """The separator (Ours), Ours_single, the baseline and the judges, with the front end's statistics."""

    sep: Separator
    single: torch.nn.Module
    baseline: torch.nn.Module
    judges: Judges
    mean: float
    std: float


@dataclass
class EvaluateResult:
    """What the evaluation notebook shows."""

    per_clip: PerClip
    tables: dict[str, str]             # report name -> Markdown (table2_objective, table3_semantic, ...)
    examples: list[ExampleSet] = field(default_factory=list)  # the first triplets of each set: audio, outputs, metrics


def run(profile: str, params: dict | None = None, progress: bool = True) -> EvaluateResult:
    """Separate and score every test set, write Tables II-IV and the ceilings, keep the examples."""
    P = params if params is not None else profile_section("evaluate", profile)
    corpus = paths.corpus_dir(profile)
    systems = load_systems(paths.profile_dir(profile) / "models", corpus, P["device"])
    test_sets = find_test_sets(corpus, paths.ood_dir(profile))
    # a set asked for 0 triplets is not evaluated (e.g. a quick run that keeps one set)
    test_sets = {name: ts for name, ts in test_sets.items()
                 if P["triplets"].get(name, P["triplets"]["default"]) > 0 or name in (P["ceilings_on"], P["long_form"]["set"])}
    sets = list(test_sets)
    print("test sets:", sets)
    per_clip, gen = {}, torch.Generator().manual_seed(P["seed"])
    with atomic_folder(examples_dir(profile)) as kept:
        for name, ts in test_sets.items():
            per_clip[name] = evaluate_set(ts, systems, P, gen, progress, keep_in=kept)
            print(f"{name}: {len(per_clip[name][BASELINE]['kl'])} triplets; "
                  f"Ours (extraction) LSD {per_clip[name]['Ours (extraction)']['lsd'].mean():.2f}")
    tables = write_tables(per_clip, sets, P["ceilings_on"], profile)
    tables["long_recordings"] = write_long_recordings(test_sets[P["long_form"]["set"]], systems, P["long_form"], profile, progress)
    return EvaluateResult(per_clip, tables, load_example_sets(examples_dir(profile)))


def find_test_sets(corpus: Path, ood: Path) -> dict[str, TripletSet]:
    """The corpus's test sets by name, then the out-of-domain set (stage ``ood_data``) when it
    holds triplets (it is empty where its Debian package is absent; that stage's report says so)."""
    sets = {p.stem: TripletSet(corpus / "testsets", p.stem) for p in sorted((corpus / "testsets").glob("*.npy"))}
    if (ood / "testsets" / f"{OOD}.npy").is_file():
        ood_set = TripletSet(ood / "testsets", OOD)
        if len(ood_set):
            sets[OOD] = ood_set
    return sets


def load_systems(models_dir: Path, corpus: Path, device: str) -> _Systems:
    """Load the separator, Ours_single, the baseline, the evaluation CLAP and the tagger."""
    sep = Separator.from_pretrained(models_dir, device=device)
    single = load_model(models_dir / "single", sep.device)
    baseline = load_model(models_dir / "resunet_film")
    eval_clap = load_model(models_dir / "eval_clap")
    judges = Judges(default_tagger(), eval_clap, sep.backbone)
    return _Systems(sep, single, baseline, judges, *fbank_stats(corpus))


def evaluate_set(ts: TripletSet, systems: _Systems, P: dict[str, Any], gen: torch.Generator,
                 progress: bool, keep_in: Path | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Separate the first triplets of ``ts`` with every system and score each output (and the
    target itself). Returns system -> metric -> [n]; with ``keep_in``, the first
    ``P["keep_examples"]`` triplets are kept there (:func:`save_example_set`)."""
    sep, judges = systems.sep, systems.judges
    name = ts.name
    n = min(len(ts), P["triplets"].get(name, P["triplets"]["default"]))
    items = [ts[i] for i in range(n)]
    examples = SeparationExamples(ts, sep.audiomae, systems.mean, systems.std, sep.qaudio, sep.backbone, limit=n)
    with torch.no_grad():
        captions = [parse_instruction(r["instructions"]["extraction"]["text"]).caption for r in ts.records[:n]]
        baseline_text = sep.backbone.encode(captions).pooled.cpu()
    outputs = separate_set(examples, sep.h1, sep.h2, systems.single, sep, systems.baseline, baseline_text, items,
                           ceilings=(name == P["ceilings_on"]), generator=gen, batch_size=P["batch_size"], progress=progress)
    targets = np.stack([it["target"] for it in items]); mixtures = np.stack([it["mixture"] for it in items])
    target_tags = judges.tagger(targets)
    caption_emb = judges.caption_embeddings([r["target_caption"] for r in ts.records[:n]])
    references = [Reference(t) for t in targets]        # each target's spectra, once for every system
    scores = {system: score(out, targets, mixtures, target_tags, caption_emb, judges, references=references)
              for system, out in outputs.items()}
    scores[GROUND_TRUTH] = score(targets, targets, mixtures, target_tags, caption_emb, judges, output_tags=target_tags,
                                 references=references)
    with torch.no_grad():
        target_audio = judges.eval_clap.audio_embedding(torch.as_tensor(target_tags[0], dtype=torch.float32)).numpy()
    scores[GROUND_TRUTH]["own_caption"] = own_caption_rate(target_audio, caption_emb, [r["target_caption"] for r in ts.records[:n]])
    if keep_in is not None:
        save_example_set(keep_in, name, items, ts.records[:n], outputs, scores, KEPT, P["keep_examples"], mixture_row=MIXTURE)
    return scores


def as_json(per_clip: PerClip) -> dict[str, dict[str, dict[str, list[float]]]]:
    """``per_clip`` with lists instead of arrays."""
    return {s: {k: {m: v.tolist() for m, v in d.items()} for k, d in sys.items()} for s, sys in per_clip.items()}


def substitutions(per_clip: PerClip, sets: list[str]) -> list[str]:
    """The notes under Tables II and IV: what stands in for the paper's metrics and data."""
    counts = {s: len(per_clip[s][BASELINE]["kl"]) for s in sets}
    return ["KL: softmax KL(target || output) over the aisfx tagger's 69 UCS classes (the paper: PANNs, AudioSet classes).",
            "LSD and PSNR: audioldm_eval's definitions, reimplemented (hsm_lib/eval/metrics.py); PSNR is the mel-PSNR.",
            "SI-SDRi: SI-SDR of the output minus that of the mixture (not in the paper; phase-sensitive, so a generative "
            "decoder scores low on it by construction).",
            "Calibration rows (not systems): the target through Opus at 6 kbps (our codec's bitrate), the target "
            "low-passed at 4 kHz (8th-order zero-phase Butterworth) and the interferer as output, built from the same "
            "test clips, so that a reader knows what a number means; the mixture is the floor.",
            "Control row (not a system): the baseline given another triplet's caption (each set's captions rolled by one); "
            "if the caption steers the mask, it scores below the baseline (tested in reports/orderings.md).",
            "Each cell: the mean over the set's triplets [its 95 % percentile-bootstrap interval, 2000 resamples of the "
            "clips]; n is the number of triplets. Whether two rows differ is decided by the paired test in "
            "reports/orderings.md, not by comparing intervals.",
            f"Triplets per test set: {counts}. Data: this corpus's offline test sets, not the paper's; the mixed set plays "
            "the paper's '3 Sets'. The paper's own numbers are in reports/paper_reference.md, on its data."]


def write_tables(per_clip: PerClip, sets: list[str], ceilings_on: str, profile: str) -> dict[str, str]:
    """Write Tables II-IV, the ceilings and the paper's numbers; returns name -> Markdown (shown ones)."""
    general = [s for s in sets if s != ZERO_SHOT]
    per_clip_json = as_json(per_clip)
    notes = substitutions(per_clip, sets)
    write_table("table2_objective", f"Table II analog: objective evaluation of separation ({profile} profile)",
                ["test set", "n", "system", "KL (lower)", "LSD (lower)", "PSNR (higher)", "SI-SDRi dB (higher)"],
                mean_table(per_clip, general, SYSTEMS, OBJECTIVE), digits=3, notes=notes,
                data={"per_clip": {s: per_clip_json[s] for s in general}})
    write_table3(per_clip, general, profile)
    names = ["table2_objective", "table3_semantic"]
    if ZERO_SHOT in per_clip:
        write_table4(per_clip, per_clip_json, notes, profile)
        names.append("table4_zero_shot")
    write_ceilings(per_clip, per_clip_json, ceilings_on, profile)
    write_orderings(per_clip, sets, profile)
    write_paper_reference()
    return {name: (paths.reports_dir() / f"{name}.md").read_text() for name in names + ["ceilings", "orderings"]}


ORDERING_METRICS = OBJECTIVE + ("afsim", "clap")


def write_orderings(per_clip: PerClip, sets: list[str], profile: str) -> None:
    """``reports/orderings.{md,json}``: each ordering the report states, decided by a paired bootstrap."""
    records = ordering_records(per_clip, sets, ORDERING_METRICS)
    write_table("orderings", f"Orderings, each decided by a paired test ({profile} profile): A - B per clip, mean [95 % CI]",
                ["test set", "n", "A vs B", "KL (lower)", "LSD (lower)", "PSNR (higher)", "SI-SDRi dB (higher)",
                 "AFSim stand-in (higher)", "CLAP (higher)"], ordering_rows(records, ORDERING_METRICS),
                notes=["Each cell: the mean over the same triplets of A's score minus B's, its 95 % paired-bootstrap interval "
                       "(2000 resamples of the clips, seeded), and the verdict for A given the metric's direction.",
                       "\"better\" or \"worse\" only when the interval excludes 0; otherwise \"not distinguishable\". "
                       "p-values (two-sided, bootstrap) are in the JSON twin."],
                data={"comparisons": records})


def write_table3(per_clip: PerClip, general: list[str], profile: str) -> None:
    """Table III analog: the AFSim stand-in and the CLAP score."""
    eval_clap_r1 = json.loads((paths.reports_dir() / "eval_clap.json").read_text())["rows"][0]["R@1"]
    write_table("table3_semantic", f"Table III analog: semantic evaluation ({profile} profile)",
                ["test set", "n", "system", "AFSim stand-in (higher)", "CLAP score (higher)"],
                mean_table(per_clip, general, (GROUND_TRUTH,) + SYSTEMS, ("afsim", "clap")), digits=3,
                notes=["AFSim stand-in: cosine between aisfx embeddings of output and target (the paper: Audio Flamingo).",
                       f"CLAP score: cosine between the evaluation CLAP's audio embedding of the output and its text embedding "
                       f"of the target's caption (also for removal, as in the paper); the evaluation CLAP (stage 10) reaches "
                       f"R@1 = {eval_clap_r1:.1f} % on test-clip retrieval (reports/eval_clap.md).",
                       "The ground-truth row scores the target itself (its AFSim is 1 by construction).",
                       "Does the CLAP judge read the sound? On each set's targets, the share of (own caption, a different "
                       "caption) pairs that it ranks the right way round, mean [95 % CI] over clips (chance 50 %): "
                       + "; ".join(f"{s} {100 * (e := bootstrap_ci(per_clip[s][GROUND_TRUTH]['own_caption'])):.1f} "
                                   f"[{100 * e.lo:.1f}, {100 * e.hi:.1f}]" for s in general) + "."])


def write_table4(per_clip: PerClip, per_clip_json: dict, notes: list[str], profile: str) -> None:
    """Table IV analog: zero-shot MUSIC-synth, every metric."""
    write_table("table4_zero_shot", f"Table IV analog: zero-shot separation on MUSIC-synth ({profile} profile)",
                ["test set", "n", "system", "KL (lower)", "LSD (lower)", "PSNR (higher)", "SI-SDRi dB (higher)", "CLAP (higher)",
                 "AFSim stand-in (higher)"],
                mean_table(per_clip, [ZERO_SHOT], (GROUND_TRUTH,) + SYSTEMS, OBJECTIVE + ("clap", "afsim")),
                digits=3, notes=["MUSIC-synth: the 11 MUSIC instrument classes rendered from a General MIDI soundfont, never "
                                 "seen in training (the paper: MUSIC recordings).", *notes],
                data={"per_clip": per_clip_json[ZERO_SHOT]})


def write_ceilings(per_clip: PerClip, per_clip_json: dict, c: str, profile: str) -> None:
    """The ceilings of each path on the test set ``c``, beside Ours, the baseline and the mixture."""
    write_table("ceilings", f"Ceilings on the {c} test set ({profile} profile): the best each path can deliver",
                ["test set", "n", "system", "KL (lower)", "LSD (lower)", "PSNR (higher)", "SI-SDRi dB (higher)",
                 "AFSim stand-in (higher)", "CLAP (higher)"],
                mean_table(per_clip, [c], CEILINGS + ("Ours (extraction)", BASELINE) + SYSTEMS[:1 + len(CALIBRATION)],
                           OBJECTIVE + ("afsim", "clap")),
                digits=3, notes=["Codec resynthesis bounds every generative output; target S through the acoustic decoder bounds "
                                 "what H3 can make of perfect local features; oracle G bounds what H2 can make of a perfect global "
                                 "feature; the ideal ratio mask bounds mask-based separation (mixture phase).",
                                 "They explain a result; they are not one."],
                data={"per_clip": per_clip_json[c]})


def write_long_recordings(ts: TripletSet, systems: _Systems, L: dict[str, Any], profile: str, progress: bool) -> str:
    """``reports/long_recordings``: the cost of joining windows, on ``L["triplets"]`` triplets of
    ``ts`` repeated to ``L["seconds"]`` (hsm_lib/eval/long_form.py). Returns the Markdown."""
    from tqdm.auto import tqdm

    n = min(L["triplets"], len(ts))
    items, records = [ts[i] for i in range(n)], ts.records[:n]
    judges, sep = systems.judges, systems.sep
    caption_emb = judges.caption_embeddings([r["target_caption"] for r in records])
    target_tags: dict[int, tuple[np.ndarray, np.ndarray]] = {}    # the clip targets and the repeated ones: tag each once

    def scorer(out: np.ndarray, tgt: np.ndarray, mix: np.ndarray) -> dict[str, np.ndarray]:
        if id(tgt) not in target_tags:
            target_tags[id(tgt)] = judges.tagger(tgt)
        return score(out, tgt, mix, target_tags[id(tgt)], caption_emb, judges)

    bar = (lambda rows: tqdm(rows, desc="long recordings", leave=False)) if progress else None
    per_clip = long_form.join_cost(sep, items, records, L["seconds"], scorer, bar)
    metrics = ("kl", "lsd", "psnr", "clap") + long_form.LOCAL
    rows = [[name, n, *(bootstrap_ci(d[m]) if m in d else "-" for m in metrics)] for name, d in per_clip.items()]
    costs = long_form.cost_records(per_clip, metrics[:4])
    clip_s, overlap_s = sep.clip_samples / SAMPLE_RATE, sep.overlap_samples / SAMPLE_RATE
    write_table("long_recordings", f"Long recordings: the cost of joining windows ({profile} profile, {ts.name} set)",
                ["system", "n", "KL (lower)", "LSD (lower)", "PSNR (higher)", "CLAP (higher)", "LSD at the joins (lower)",
                 "LSD at the splice points (lower)"], rows, digits=3,
                notes=[f"The first {n} triplets of the {ts.name} set, extraction instruction. Mixture, target and interferer "
                       f"({clip_s:g}-s clips, the separator's window) are each repeated to {L['seconds']:g} s, which the "
                       f"separator cuts into {clip_s:g}-s windows overlapping by {overlap_s:g} s. 'One clip' rows: the clip "
                       "itself, one window, no join.",
                       "The join cost is each join method's row minus the row 'the clip's output repeated' (the same content, "
                       "no join), clip by clip; the mixture's two rows show what the repetition alone does to a metric.",
                       f"LSD at the joins: only the overlaps (where crossfades act); at the splice points: only "
                       f"{long_form.SPLICE_SECONDS:g} s around each overlap's middle (where a token splice switches windows).",
                       f"The separator's default join here: {sep.join_method} (join='auto': tokens for the autoregressive "
                       "LM, waveform for the non-autoregressive decoder).",
                       *long_form.cost_lines(costs)],
                data={"per_clip": {k: {m: v.tolist() for m, v in d.items()} for k, d in per_clip.items()},
                      "join_costs": costs})
    return (paths.reports_dir() / "long_recordings.md").read_text()


def write_paper_reference() -> None:
    """The paper's own Table II ('3 Sets'), with its Tables III and IV in the notes."""
    rows = [[name, *vals] for name, vals in paper_tables.TABLE2_3SETS.items()]
    table3 = "; ".join(f"{k} {v[0] if v[0] is not None else '-'} / {v[1]}" for k, v in paper_tables.TABLE3_3SETS.items())
    table4 = "; ".join(f"{k} " + " / ".join(map(str, v)) for k, v in paper_tables.TABLE4_MUSIC.items())
    write_table("paper_reference", "The paper's own numbers (its Table II, '3 Sets'; its data and metrics, not ours)",
                ["system (paper)", "KL", "LSD", "PSNR"], rows, digits=3,
                notes=["Quoted from the paper for reference; measured on AudioCaps/Clotho/FSD50K mixtures with PANNs KL. Not "
                       "comparable number for number with our tables: data, scale and metric models differ.",
                       f"Its Table III ('3 Sets', AFSim / CLAP): {table3}.",
                       f"Its Table IV (MUSIC, KL / LSD / PSNR / CLAP / AFSim): {table4}."])
