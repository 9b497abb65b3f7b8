"""The ``hsm-tss`` command line.

    hsm-tss sources            which real-sound sources this machine has
    hsm-tss stage NAME         run one pipeline stage (as dvc repro does) with the active profile
    hsm-tss parse "TEXT"       parse an instruction: prints {"task": ..., "caption": ...}
"""

from __future__ import annotations

import argparse
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

    parser = LLMInstructionParser.from_pretrained(args.llm) if args.llm else None
    print(json.dumps(parse_instruction(" ".join(args.text), parser).to_dict(), ensure_ascii=False))
    return 0


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
    p.add_argument("--llm", metavar="PATH", default=None,
                   help="a local transformers causal LM to parse with (falls back to the rules on invalid output)")
    p.set_defaults(func=_parse)
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
