"""Real-time factor of the separator people use: ``Separator.separate`` on a long recording.

    python scripts/bench_separate.py                     # cpu profile's models, 60 s, this machine's cores
    python scripts/bench_separate.py --device cuda --out benchmarks/separate_h100.json

The recording is the cpu profile's mixed test mixtures laid end to end (real audio, not noise),
cut to ``--seconds``. One warm-up call on a short clip loads everything first; then the timed
calls, each the whole recording. Reports wall seconds, the real-time factor (wall / audio
seconds; below 1 is faster than real time), the windows, the join method, the threads and the
peak RSS, and writes them as JSON (atomically) when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hsm_lib import paths
from hsm_lib.audio import SAMPLE_RATE
from hsm_lib.config import active_profile
from hsm_lib.data.triplets import TripletSet
from hsm_lib.io import atomic_write_text
from hsm_lib.pipeline import Separator, window_starts


def recording(profile: str, seconds: float) -> np.ndarray:
    """[seconds * 16 kHz] mono: the mixed test set's mixtures end to end."""
    ts = TripletSet(paths.corpus_dir(profile) / "testsets", "mixed")
    if not len(ts):
        raise SystemExit(f"the {profile} profile's mixed test set is empty: run `dvc repro data` first")
    need = int(seconds * SAMPLE_RATE)
    parts, have, i = [], 0, 0
    while have < need:
        parts.append(ts[i % len(ts)]["mixture"])
        have += len(parts[-1])
        i += 1
    return np.concatenate(parts)[:need].astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="models folder (default: data/<active profile>/models)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--query", default="extract the dog barking")
    ap.add_argument("--out", default=None, help="write the result as JSON here")
    args = ap.parse_args(argv)
    profile = active_profile()
    checkpoint = Path(args.checkpoint) if args.checkpoint else paths.profile_dir(profile) / "models"
    sep = Separator.from_pretrained(checkpoint, device=args.device)
    x = recording(profile, args.seconds)
    sep.separate(x[: sep.clip_samples], SAMPLE_RATE, args.query)        # warm-up: one window
    walls = []
    for _ in range(args.repeats):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = sep.separate(x, SAMPLE_RATE, args.query)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - t0)
    assert out.shape == x.shape and np.isfinite(out).all()
    wall = min(walls)
    result = {"audio_seconds": args.seconds, "wall_seconds": [round(w, 2) for w in walls], "rtf": round(wall / args.seconds, 4),
              "windows": len(window_starts(len(x), sep.clip_samples, sep.clip_samples - sep.overlap_samples)),
              "join": sep.join_method, "device": args.device, "torch_threads": torch.get_num_threads(),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "checkpoint": os.path.relpath(checkpoint), "profile": profile, "machine": platform.processor() or platform.machine(),
              "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None}
    print(json.dumps(result, indent=1))
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
