"""``reports/README.md``: the map from the paper's tables and figures to the files that
regenerate them, with the substitutions stated and the headline numbers read from the reports
(never typed: every number here comes from a JSON the pipeline wrote)."""

from __future__ import annotations

import json
from pathlib import Path

# (paper item, report file(s), stage, what stands in for what)
MAP = [
    ("Table I (test sets)", "table1_test_sets.md", "data", "offline corpus of real recordings, speech and synthesis; MUSIC-synth for MUSIC"),
    ("out-of-domain test set (not in the paper)", "table1_ood.md", "ood_data", "Tux Paint's stamp sounds, a source no training clip comes from"),
    ("Table V (text-to-audio retrieval)", "table5_retrieval.md", "qaudio", "MiniLM for FLAN-T5; CLAP-style two-tower baseline trained here"),
    ("Table VI (audio captioning from frozen features)", "table6_captioning.md, figures/table6_caption_loss.png", "captioning",
     "GPT-2's shape trained from scratch (no GPT-2 weights offline; the paper profile loads them from a local folder); "
     "METEOR and CIDEr-D, SPICE/SPIDEr not offline; template captions of our corpus"),
    ("Table VII (linear probes)", "table7_linear_probe.md", "audiomae", "probe tasks built from this corpus (ESC-50 / SC / NSynth analogs)"),
    ("Table VIII (codec)", "table8_codec.md", "codec", "Opus at 6 kbps stands in for EnCodec/DAC (no weights offline)"),
    ("codec ablation: the tagger's view of resynthesis, beside calibration rows", "codec_ablation.md", "codec", "-"),
    ("acoustic-decoder ceilings", "ceilings_acoustic.md", "acoustic_lm", "-"),
    ("listening figure: target / codec / S -> LM -> codec", "figures/acoustic_listening.png", "acoustic_lm", "-"),
    ("Sec. III-F instruction parsing", "parser_accuracy.md, figures/parser_loss.png", "parser",
     "rules + a learned parser on frozen MiniLM (used where the rules are unsure) for the LLM"),
    ("H1 (Sec. III-C), Fig. 5", "global_sep.md, figures/fig5_global_tsne.png", "global_sep", "-"),
    ("H2, Ours_single (Sec. III-D), Fig. 6", "local_sep.md, figures/fig6_attention.png", "local_sep", "-"),
    ("joint fine-tuning", "joint_ft.md", "joint_ft", "-"),
    ("mask-based baseline", "figures/baseline_loss.png", "baselines", "ResUNet-FiLM (AudioSep's architecture) trained on our data"),
    ("CLAP score's judge", "eval_clap.md", "eval_clap", "evaluation CLAP on aisfx + text-backbone towers for MS-CLAP"),
    ("Table II (objective)", "table2_objective.md", "evaluate", "aisfx KL for PANNs KL; SI-SDRi added"),
    ("Table III (semantic)", "table3_semantic.md", "evaluate", "aisfx embedding cosine for AFSim; evaluation CLAP for MS-CLAP"),
    ("Table IV (zero-shot music)", "table4_zero_shot.md", "evaluate", "MUSIC-synth (GM soundfont renders) for MUSIC"),
    ("ceilings (codec, target S, oracle G, IRM)", "ceilings.md", "evaluate", "-"),
    ("the orderings the paper claims, each with its paired test", "orderings.md", "evaluate", "paired bootstrap over our test triplets"),
    ("the paper's own numbers", "paper_reference.md", "evaluate", "quoted, labelled as the paper's"),
    ("long recordings: the cost of joining windows (not in the paper)", "long_recordings.md", "evaluate", "test clips repeated to long recordings"),
    ("Fig. 7 (examples)", "figures/fig7_examples.png, figures/fig7_examples.pdf", "figures", "drawn from the examples evaluate keeps"),
    ("training curves of every model", "figures/training_curves.png, figures/training_curves.pdf, curves", "figures", "curves: the report stage"),
    ("the paper's demo page of examples", "demo/index.html, figures/demo_page.png", "demo", "Opus-compressed audio, inlined"),
    ("headline numbers for `dvc metrics show` / `diff`", "metrics", "report", "-"),
]


def _rows(reports: Path, name: str) -> list[dict]:
    path = reports / f"{name}.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def _find(rows: list[dict], **match) -> dict | None:
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def _with_ci(row: dict, column: str, digits: int) -> str:
    """"m [lo, hi]" when the report gives the column's 95 % interval, else "m"."""
    ci = row.get(f"{column} CI95")
    return f"{row[column]:.{digits}f}" + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


HEADLINE_SETS = ("mixed", "ood")   # the paper's '3 Sets' analog, and recordings of a source never trained on


def headline(reports: Path) -> list[str]:
    """Sentences with the main numbers, each read from a report."""
    out = []
    t2 = _rows(reports, "table2_objective")
    cols = ("KL (lower)", "LSD (lower)", "PSNR (higher)", "SI-SDRi dB (higher)")
    for test_set in HEADLINE_SETS:
        for system in ("Ours (extraction)", "Ours (removal)", "Ours_single (extraction)", "ResUNet-FiLM (AudioSep architecture, same data)",
                       "mixture, unprocessed (the floor)"):
            r = _find(t2, **{"test set": test_set, "system": system})
            if r:
                n = f" ({r['n']} triplets)" if "n" in r else ""
                out.append(f"- {test_set} test set{n}, {system}: KL {_with_ci(r, cols[0], 3)}, LSD {_with_ci(r, cols[1], 3)}, "
                           f"PSNR {_with_ci(r, cols[2], 2)}, SI-SDRi {_with_ci(r, cols[3], 2)} dB")
    for test_set in HEADLINE_SETS:
        out += orderings(reports, test_set)
    paper = _rows(reports, "paper_reference")
    for system in ("Ours (extraction)", "AudioSep"):
        r = _find(paper, **{"system (paper)": system})
        if r:
            out.append(f"- the paper's '3 Sets', {system} (its data and metric models): KL {r['KL']:.3f}, LSD {r['LSD']:.3f}, "
                       f"PSNR {r['PSNR']:.2f}")
    return out


METRIC_NAMES = {"kl": "KL", "lsd": "LSD", "psnr": "PSNR", "si_sdri": "SI-SDRi", "afsim": "AFSim stand-in", "clap": "CLAP"}


def _p_text(p: float) -> str:
    """A bootstrap p-value as text: with N_BOOT resamples, below 1 / N_BOOT reads "p < 0.001"."""
    return "p < 0.001" if p < 1e-3 else f"p = {p:.3f}"


def orderings(reports: Path, test_set: str = "mixed") -> list[str]:
    """One sentence per ordering on ``test_set``, each metric's word ("better", "worse", "not
    distinguishable") taken from the paired bootstrap in orderings.json, never judged by eye."""
    path = reports / "orderings.json"
    if not path.exists():
        return []
    pairs: dict[tuple[str, str], list[dict]] = {}
    for c in json.loads(path.read_text())["comparisons"]:
        if c["test set"] == test_set:
            pairs.setdefault((c["a"], c["b"]), []).append(c)
    out = []
    for (a, b), cs in pairs.items():
        parts = [f"{METRIC_NAMES.get(c['metric'], c['metric'])} {c['verdict']} (Δ {c['diff']:+.2f} [{c['ci95'][0]:+.2f}, "
                 f"{c['ci95'][1]:+.2f}], {_p_text(c['p'])})" for c in cs]
        out.append(f"- {test_set} set, {a} against {b}, paired bootstrap over {cs[0]['n']} triplets: " + "; ".join(parts))
    return out


def write_reports_readme(reports: Path, profile: str) -> Path:
    from hsm_lib.io import atomic_write_text

    timings = {}
    for p in sorted((reports / "timings").glob("*.json")):
        t = json.loads(p.read_text())
        timings[t["stage"]] = (t["seconds"], t["peak_rss_mb"])
    lines = [f"# Reports ({profile} profile)", "",
             "Generated by the `report` stage of `dvc repro`; every table, figure and number below is written by the "
             "pipeline. Our data, scale and metric models differ from the paper's (see each report's notes): compare "
             "orderings, not values.", "",
             "| paper | report | stage | stands in |", "|---|---|---|---|"]
    lines += [f"| {item} | {', '.join(f'[{f.strip()}]({f.strip()})' for f in files.split(','))} | `{stage}` | {sub} |"
              for item, files, stage, sub in MAP]
    lines += ["", "## Headline numbers", ""] + (headline(reports) or ["- (the evaluation has not run)"])
    lines += ["", "## Stage times of the last run", "", "| stage | seconds | peak RSS MB |", "|---|---:|---:|"]
    lines += [f"| {s} | {sec:.1f} | {rss:.0f} |" for s, (sec, rss) in timings.items()]
    total = sum(sec for sec, _ in timings.values())
    lines += [f"| total | {total:.1f} | {max((r for _, r in timings.values()), default=0):.0f} |", ""]
    path = reports / "README.md"
    atomic_write_text(path, "\n".join(lines))
    return path
