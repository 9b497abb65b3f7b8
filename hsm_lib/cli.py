"""The ``hsm-tss`` command line.

    hsm-tss sources            which real-sound sources this machine has
    hsm-tss stage NAME         run one pipeline stage (as dvc repro does) with the active profile
    hsm-tss parse "TEXT"       parse an instruction: prints {"task": ..., "caption": ...}
    hsm-tss separate IN... -q "remove the dog barking" -o OUT_DIR [--checkpoint DIR] [--device cpu|cuda]
                               separate files (or every audio file in folders); one WAV out per input
"""

from __future__ import annotations

import argparse
from pathlib import Path
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


AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3", ".opus"}


def collect_inputs(items: list[str]) -> list[Path]:
    """Files as given, folders expanded to the audio files under them (sorted). Raises naming
    the first input that does not exist or a folder with no audio."""

    out = []
    for item in items:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{path}: folder has no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            out += found
        else:
            out.append(path)
    return out


def check_audio(path) -> None:
    """Raise AudioError naming ``path`` if it cannot be read or holds no samples."""
    import soundfile as sf

    from hsm_lib.audio import AudioError

    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if info.frames == 0:
        raise AudioError(f"{path}: zero-length audio")


def output_names(inputs: list) -> list[str]:
    """One ``<stem>.wav`` per input; repeated stems get ``_2``, ``_3``..."""
    seen: dict[str, int] = {}
    names = []
    for p in inputs:
        n = seen[p.stem] = seen.get(p.stem, 0) + 1
        names.append(f"{p.stem}.wav" if n == 1 else f"{p.stem}_{n}.wav")
    return names


def _separate(args: argparse.Namespace) -> int:

    import soundfile as sf
    from tqdm.auto import tqdm

    from hsm_lib import paths
    from hsm_lib.config import active_profile
    from hsm_lib.io import atomic_path
    from hsm_lib.pipeline import Separator
    from hsm_lib.text.instructions import parse_instruction

    # everything that can be wrong is checked before anything is computed or written
    instruction = parse_instruction(args.query)
    inputs = collect_inputs(args.inputs)
    for path in inputs:
        check_audio(path)
    checkpoint = Path(args.checkpoint) if args.checkpoint else paths.profile_dir(active_profile()) / "models"
    separator = Separator.from_pretrained(checkpoint, device=args.device, join=args.join)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{instruction.task} of '{instruction.caption}' from {len(inputs)} file(s) -> {out_dir}", file=sys.stderr)
    for path, name in zip(tqdm(inputs, desc="separating", unit="file"), output_names(inputs)):
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
        out = separator.separate(wave, sr, args.query, progress=True)
        with atomic_path(out_dir / name) as tmp:
            sf.write(str(tmp), out, sr, format="WAV", subtype="FLOAT")
    return 0


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
    p.add_argument("--llm", metavar="PATH", default=None,
                   help="a local transformers causal LM to parse with (falls back to the rules on invalid output)")
    p.set_defaults(func=_parse)
    p = sub.add_parser("separate", help="separate the sound an instruction describes, or remove it")
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files, or folders of them")
    p.add_argument("-q", "--query", required=True, help='the instruction, e.g. "remove the dog barking"')
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the separated WAV files")
    p.add_argument("--checkpoint", metavar="DIR", default=None,
                   help="models folder with separator.json (default: data/<active profile>/models)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
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
