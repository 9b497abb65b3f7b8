"""Memory and speed of ``hsm-tss separate`` on long MP3 files, as a user runs it.

    python scripts/bench_cli_long.py --out benchmarks/cli_long_mp3_cpu_2cores.json

Builds MP3 files (44.1 kHz stereo, 128 kbit/s, by ffmpeg) of the cpu profile's mixed test
mixtures laid end to end, of each length in ``--minutes`` (default 1 and 10), then runs the
command line on each in a child process (``--both``: two stems) and reads the child's peak RSS
from the kernel (``wait4``). Bounded memory shows as a peak RSS that barely grows from the short
file to the long one. The real-time factor is wall seconds over audio seconds, per stem (below 1
is faster than real time), and includes loading the models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_separate import recording  # noqa: E402  (the same real audio as the in-process benchmark)

from hsm_lib.audio import SAMPLE_RATE  # noqa: E402
from hsm_lib.config import active_profile  # noqa: E402
from hsm_lib.io import atomic_write_text  # noqa: E402


def write_mp3(path: Path, wave: np.ndarray) -> None:
    """[T] 16-kHz mono -> a 44.1-kHz stereo 128-kbit/s MP3, the usual shape of a user's file."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "in.wav"
        sf.write(str(wav), wave, SAMPLE_RATE)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ac", "2", "-ar", "44100", "-b:a", "128k",
                        str(path)], check=True)


def run_child(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of ``cmd``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--query", default="remove the dog barking")
    ap.add_argument("--checkpoint", default=None, help="models folder (default: found as the command finds it)")
    ap.add_argument("--out", default=None, help="write the result as JSON here")
    args = ap.parse_args(argv)
    exe = shutil.which("hsm-tss")
    base = [exe] if exe else [sys.executable, "-m", "hsm_lib.cli"]
    profile = active_profile()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            mp3 = Path(tmp) / f"long_{minutes:g}min.mp3"
            write_mp3(mp3, recording(profile, minutes * 60))
            out = Path(tmp) / f"out_{minutes:g}"
            cmd = [*base, "separate", str(mp3), "-q", args.query, "-o", str(out), "--both", "--device", "cpu"]
            if args.checkpoint:
                cmd += ["--checkpoint", args.checkpoint]
            wall, rss, _ = run_child(cmd)
            outputs = sorted(out.iterdir())
            durations = [round(sf.info(str(p)).duration, 2) for p in outputs]
            rows.append({"minutes": minutes, "mp3_mb": round(mp3.stat().st_size / 1e6, 1), "wall_seconds": round(wall, 1),
                         "rtf_per_stem": round(wall / (minutes * 60) / 2, 4), "peak_rss_mb": round(rss, 1),
                         "outputs": [p.name for p in outputs], "output_seconds": durations})
            print(json.dumps(rows[-1]))
    result = {"command": " ".join(["hsm-tss", "separate", "FILE.mp3", "-q", repr(args.query), "-o", "OUT", "--both",
                                   "--device", "cpu"]), "runs": rows, "profile": profile, "cores": os.cpu_count(),
              "machine": platform.processor() or platform.machine()}
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
