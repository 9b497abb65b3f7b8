"""``hsm-tss separate``: files in, one WAV per input and stem out.

    hsm-tss separate song.mp3 -q "remove the dog barking" -o out/ --both
    # out/song.remove-the-dog-barking.wav  and  out/song.extract-the-dog-barking.wav

Outputs are named by input and parsed instruction (``<input stem>.<extract|remove>-<caption>.wav``),
so a second instruction into the same folder adds files instead of overwriting the first.
``--both`` also writes the complementary stem: the other task on the same caption.

Everything that can be checked before computing is checked first (inputs exist, are audio and
hold only finite samples, the instruction names a sound, the checkpoint loads, the output folder
can be a folder), so a mistake costs seconds, not a separation, and no output is written for a
call that fails. Each output is written atomically.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hsm_lib.audio_files import AUDIO_SUFFIXES, check_audio_file, read_audio_file

VERB = {"extraction": "extract", "removal": "remove"}
OTHER_TASK = {"extraction": "removal", "removal": "extraction"}
SLUG_CHARS = 60


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


def slug(text: str, limit: int = SLUG_CHARS) -> str:
    """A caption as a file-name part: lower-case letters and digits (any script) joined by '-',
    at most ``limit`` characters; a cut one ends in a short hash of the whole, so two long
    captions that share a beginning still get two names."""
    words = re.findall(r"[^\W_]+", text.lower())
    s = "-".join(words) or "sound"
    if len(s) > limit:
        digest = hashlib.sha1(text.encode()).hexdigest()[:6]
        s = s[: limit - 7].rstrip("-") + "-" + digest
    return s


def unique_stems(inputs: list[Path]) -> list[str]:
    """One stem per input; repeated stems (same name in two folders) get ``_2``, ``_3``..."""
    seen: dict[str, int] = {}
    stems = []
    for p in inputs:
        n = seen[p.stem] = seen.get(p.stem, 0) + 1
        stems.append(p.stem if n == 1 else f"{p.stem}_{n}")
    return stems


def output_name(stem: str, task: str, caption: str) -> str:
    """``<stem>.<extract|remove>-<caption slug>.wav``."""
    return f"{stem}.{VERB[task]}-{slug(caption)}.wav"


@dataclass
class SeparateOptions:
    inputs: list[str]
    query: str
    output: str
    checkpoint: str | None = None
    device: str = "auto"
    both: bool = False
    overlap: float = 1.0
    batch_size: int = 4
    seed: int = 0
    join: str = "auto"


def check_output_folder(folder: Path) -> None:
    """A folder path that names an existing file is an error (checked before the models load)."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"output folder '{folder}' is an existing file, not a folder")


def prepare_output_folder(folder: Path) -> None:
    """Create ``folder`` (and parents), with a sentence for the ways that fails."""
    check_output_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"output folder '{folder}' cannot be made: a part of its path is a file") from None
    except OSError as exc:
        raise OSError(f"output folder '{folder}' cannot be made ({exc.strerror})") from None


def parse_with(parser, text: str):
    """(Instruction, how it was parsed, in words) with ``parser`` (a HybridParser, another
    callable, or None for the rules)."""
    from hsm_lib.text.instructions import parse_instruction

    if hasattr(parser, "decide"):
        decision = parser.decide(text)
        return decision.instruction, f"parsed by the {decision.path}: {decision.reason}"
    return parse_instruction(text, parser), "parsed by the rules"


def run_separate(opts: SeparateOptions) -> list[Path]:
    """Separate every input; returns the files written, in order."""
    import soundfile as sf
    from tqdm.auto import tqdm

    from hsm_lib.checkpoint_location import resolve_checkpoint
    from hsm_lib.io import atomic_path
    from hsm_lib.pipeline import Separator
    from hsm_lib.text.instructions import Instruction, parse_instruction

    if not opts.overlap >= 0:
        raise ValueError(f"--overlap must be a number of seconds >= 0, got {opts.overlap}")
    if opts.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {opts.batch_size}")
    parse_instruction(opts.query)     # empty, or names no sound: an error before anything loads
    inputs = collect_inputs(opts.inputs)
    for path in inputs:
        check_audio_file(path)        # the headers first: a wrong file is named in a second
    for path in inputs:
        read_audio_file(path)         # then every sample (NaN, inf), one file in memory at a time
    out_dir = Path(opts.output)
    check_output_folder(out_dir)
    separator = Separator.from_pretrained(resolve_checkpoint(opts.checkpoint), device=opts.device, join=opts.join,
                                          overlap_seconds=opts.overlap, batch_size=opts.batch_size, seed=opts.seed)
    instruction, how = parse_with(separator.parser, opts.query)
    tasks = [instruction.task] + ([OTHER_TASK[instruction.task]] if opts.both else [])
    prepare_output_folder(out_dir)
    stems = " and ".join(f"{t} of '{instruction.caption}'" for t in tasks)
    print(f"{stems} ({how}) from {len(inputs)} file(s) on {separator.device} -> {out_dir}", file=sys.stderr)
    written = []
    for path, stem in zip(tqdm(inputs, desc="files", unit="file"), unique_stems(inputs)):
        wave, sr = read_audio_file(path)
        for task in tasks:
            out = separator.separate(wave, sr, Instruction(task, instruction.caption),
                                     progress=f"{path.name}: {VERB[task]}")
            target = out_dir / output_name(stem, task, instruction.caption)
            with atomic_path(target) as tmp:
                sf.write(str(tmp), out, sr, format="WAV", subtype="FLOAT")
            written.append(target)
    return written
