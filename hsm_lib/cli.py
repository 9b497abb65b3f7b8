"""The ``hsm-tss`` command line.

    hsm-tss sources            which real-sound sources this machine has
    hsm-tss stage NAME         run one pipeline stage (as dvc repro does) with the active profile
    hsm-tss parse "TEXT"       parse an instruction: prints {"task", "caption", "path", "reason"}
    hsm-tss separate IN... -q "remove the dog barking" -o OUT_DIR [--both] [--checkpoint DIR] [--device auto]
                               separate files (or every audio file in folders); one WAV per input and stem
"""

from __future__ import annotations

import argparse
import re
import sys


def _sources(args: argparse.Namespace) -> int:
    from hsm_lib.data.sources.availability import report

    print(report())
    return 0


def _stage(args: argparse.Namespace) -> int:
    from hsm_lib.stage import run_stage

    run_stage(args.name, args.profile)
    return 0


def _parse(args: argparse.Namespace) -> int:
    import json

    from hsm_lib.text.instructions import LLMInstructionParser, parse_instruction

    text = " ".join(args.text)
    parse_instruction(text)                      # empty, or names no sound: the error comes first
    if args.llm:
        llm = LLMInstructionParser.from_pretrained(args.llm)
        out = {**parse_instruction(text, llm).to_dict(), "path": "llm" if not llm.fallbacks else "rules",
               "reason": "the LLM's answer" if not llm.fallbacks else "the LLM's answer was invalid: the rules"}
    elif args.rules_only:
        out = {**parse_instruction(text).to_dict(), "path": "rules", "reason": "--rules-only"}
    else:
        out = _parse_hybrid(text, args.checkpoint)
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _parse_hybrid(text: str, checkpoint: str | None) -> dict:
    """The hybrid parser of the checkpoint folder if it has one; the rules (saying why) if not."""
    from hsm_lib.checkpoint import CheckpointError
    from hsm_lib.checkpoint_location import resolve_checkpoint
    from hsm_lib.text.instructions import parse_instruction

    try:
        folder = resolve_checkpoint(checkpoint)
    except CheckpointError as exc:
        if checkpoint:
            raise
        return {**parse_instruction(text).to_dict(), "path": "rules",
                "reason": f"no learned parser: {str(exc).split('. ')[0]}"}
    from hsm_lib.pipeline import load_parser

    parser = load_parser(folder)
    if parser is None:
        return {**parse_instruction(text).to_dict(), "path": "rules",
                "reason": f"no learned parser in {folder} (the pipeline's parser stage trains one)"}
    return parser.decide(text).to_dict()


def _separate(args: argparse.Namespace) -> int:
    from hsm_lib.separate_command import SeparateOptions, run_separate

    run_separate(SeparateOptions(args.inputs, args.query, args.output, args.checkpoint, args.device, args.both,
                                 args.overlap, args.batch_size, args.seed, args.join))
    return 0


def _device(name: str) -> str:
    if name in ("auto", "cpu") or re.fullmatch(r"cuda(:\d+)?", name):
        return name
    raise argparse.ArgumentTypeError(f"'{name}' is not a device: auto, cpu, cuda or cuda:N")


# hsm_lib.pipeline.JOINS, spelled out here so that `hsm-tss --help` does not import torch (a test holds them equal)
SEPARATOR_JOINS = ("auto", "tokens", "waveform")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hsm-tss", description="HSM-TSS companion: text-queried audio source separation")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sources", help="list which real-sound sources this machine has")
    p.set_defaults(func=_sources)
    p = sub.add_parser("stage", help="run one pipeline stage with the active profile")
    p.add_argument("name")
    p.add_argument("--profile", choices=("smoke", "cpu", "paper"), default=None)
    p.set_defaults(func=_stage)
    p = sub.add_parser("parse", help="parse an instruction into task and caption (JSON)")
    p.add_argument("text", nargs="+", help="the instruction (quote it, or give it as several words)")
    p.add_argument("--checkpoint", metavar="DIR", default=None,
                   help="models folder whose instruction_parser to use (default: found as for separate)")
    p.add_argument("--rules-only", action="store_true", help="the rules alone, no learned parser")
    p.add_argument("--llm", metavar="PATH", default=None,
                   help="a local transformers causal LM to parse with (falls back to the rules on invalid output)")
    p.set_defaults(func=_parse)
    p = sub.add_parser("separate", help="separate the sound an instruction describes, or remove it",
                       description="Writes <OUT_DIR>/<input stem>.<extract|remove>-<caption>.wav per input (mono, "
                                   "the input's rate, 32-bit float). Reads anything libsndfile or ffmpeg reads.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files, or folders of them")
    p.add_argument("-q", "--query", required=True, help='the instruction, e.g. "remove the dog barking"')
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the separated WAV files")
    p.add_argument("--both", action="store_true",
                   help="also write the complementary stem (the other task on the same caption: what is left)")
    p.add_argument("--checkpoint", metavar="DIR", default=None,
                   help="models folder with separator.json (default: $HSM_TSS_CHECKPOINT, then "
                        "~/.local/share/hsm-tss/models, then a checkout's data/<active profile>/models)")
    p.add_argument("--device", type=_device, default="auto", help="auto (a GPU if there is one), cpu, cuda or cuda:N")
    p.add_argument("--overlap", type=float, default=1.0, metavar="SECONDS",
                   help="overlap of consecutive windows of a long recording (default 1.0; at most half a window)")
    p.add_argument("--batch-size", type=int, default=4, help="windows separated at once (memory vs speed; default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the acoustic LM's sampling (default 0)")
    p.add_argument("--join", choices=SEPARATOR_JOINS, default="auto",
                   help="how windows of a long recording are joined: waveform crossfades, or codec tokens spliced and "
                        "decoded once (auto: tokens for the autoregressive LM, waveform for the non-autoregressive decoder)")
    p.set_defaults(func=_separate)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line for users; tracebacks are for developers
        print(f"hsm-tss: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
