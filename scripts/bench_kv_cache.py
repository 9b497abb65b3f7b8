"""Benchmark: acoustic-LM generation with and without the key/value cache, in one run.

    .venv/bin/python scripts/bench_kv_cache.py [--profile cpu] [--frames 200] [--batch 4] [--repeats 2]

Builds the profile's acoustic LM (randomly initialised: speed does not depend on the weights),
generates ``--frames`` frames greedily for a batch of random AudioMAE-sized conditions, first
with the cache and then by recomputing the whole prefix every step, alternating ``--repeats``
times, and prints the median times, their ratio, and whether the tokens are identical. The end
token is disabled so both runs generate exactly ``--frames`` frames. Not a test: timings are
noisy; the ratio within one run is what to quote.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from hsm_lib.config import profile_section
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
from hsm_lib.models.audiomae import AudioMAEConfig
from hsm_lib.models.codec import CodecConfig


def build(profile: str, frames: int) -> tuple[AcousticLM, int, int]:
    data = profile_section("data", profile)
    mae = AudioMAEConfig(n_frames=data["fbank_frames"], **profile_section("audiomae", profile)["model"])
    codec = CodecConfig(**profile_section("codec", profile)["model"])
    cfg = AcousticLMConfig(cond_dim=mae.dim, groups=codec.groups, codebook_size=codec.codebook_size,
                           max_frames=max(frames, int(data["clip_seconds"] * codec.frame_rate)), max_cond=mae.n_patches,
                           **profile_section("acoustic_lm", profile)["model"])
    torch.manual_seed(0)
    lm = AcousticLM(cfg).eval()
    with torch.no_grad():  # never predict the end token, so both runs generate every frame
        for head in lm.heads[:1]:
            head.bias[cfg.eos] = -1e9
    return lm, mae.n_patches, mae.dim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--frames", type=int, default=200, help="frames to generate (50 per second)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    lm, patches, dim = build(args.profile, args.frames)
    cond = torch.randn(args.batch, patches, dim)
    times: dict[str, list[float]] = {"cache": [], "recompute": []}
    outs = {}
    for _ in range(args.repeats):
        for name, use_cache in (("cache", True), ("recompute", False)):
            t0 = time.perf_counter()
            outs[name], _ = lm.generate(cond, args.frames, use_cache=use_cache)
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "profile": args.profile, "lm": {"dim": lm.cfg.dim, "layers": lm.cfg.layers, "heads": lm.cfg.heads,
                                        "groups": lm.cfg.groups},
        "batch": args.batch, "frames": args.frames, "threads": torch.get_num_threads(),
        "seconds_with_cache": round(med["cache"], 3), "seconds_recompute": round(med["recompute"], 3),
        "speedup": round(med["recompute"] / med["cache"], 2),
        "identical_tokens": bool(torch.equal(outs["cache"], outs["recompute"])),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
