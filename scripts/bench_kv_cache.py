"""Benchmark: acoustic-LM generation with the key/value cache, without it, and with the cached
step compiled, in one run.

    .venv/bin/python scripts/bench_kv_cache.py [--profile cpu] [--frames 200 500] [--batch 4] [--repeats 2]
        [--no-compile] [--device cpu] [--out benchmarks/kv_cache_cpu.json]

Builds the profile's acoustic LM (randomly initialised: speed does not depend on the weights)
and, for each ``--frames``, generates that many frames greedily for a batch of random
AudioMAE-sized conditions: with the preallocated cache, by recomputing the whole prefix every
step, and with the cached step through ``torch.compile`` (on CUDA as a CUDA graph), alternating
``--repeats`` times after one warm-up each (which holds the compilation). Prints the median
times, the ratios to the cache, and whether the tokens are identical; ``--out`` also writes them.
The end token is disabled so every run generates exactly the asked frames. Not a test: timings
are noisy; the ratios within one run are what to quote.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch

from hsm_lib.config import profile_section
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
from hsm_lib.models.audiomae import AudioMAEConfig


def build(profile: str, frames: int) -> tuple[AcousticLM, int, int]:
    """The profile's acoustic LM at random init. A profile whose decoder is the non-autoregressive
    one (cpu, smoke) lends the LM its width, depth and heads; the rest keeps AcousticLMConfig's
    defaults (cross-attention to S, the free head)."""
    data = profile_section("data", profile)
    mae = AudioMAEConfig(n_frames=data["fbank_frames"], **profile_section("audiomae", profile)["model"])
    codec = profile_section("codec", profile)["model"]
    lm_fields = {f.name for f in dataclasses.fields(AcousticLMConfig)}
    model = {k: v for k, v in profile_section("acoustic_lm", profile)["model"].items() if k in lm_fields}
    frame_rate = data["sample_rate"] / 320   # the codecs' 20-ms frames
    cfg = AcousticLMConfig(cond_dim=mae.dim, groups=codec["groups"], codebook_size=codec["codebook_size"],
                           max_frames=max(frames, int(data["clip_seconds"] * frame_rate)), max_cond=mae.n_patches, **model)
    torch.manual_seed(0)
    lm = AcousticLM(cfg).eval()
    with torch.no_grad():  # never predict the end token, so both runs generate every frame
        for head in lm.heads[:1]:
            head.bias[cfg.eos] = -1e9
    return lm, mae.n_patches, mae.dim


def time_runs(lm: AcousticLM, cond: torch.Tensor, frames: int, repeats: int, variants: dict[str, dict]) -> dict:
    """Median seconds and the tokens of each variant (keyword arguments of ``generate``)."""
    def run(kw: dict) -> tuple[float, torch.Tensor]:
        if cond.is_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        tokens, _ = lm.generate(cond, frames, **kw)
        if cond.is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0, tokens

    warm = {name: run(kw)[0] for name, kw in variants.items()}   # the compiled one compiles here
    times: dict[str, list[float]] = {name: [] for name in variants}
    tokens = {}
    for _ in range(repeats):
        for name, kw in variants.items():
            seconds, tokens[name] = run(kw)
            times[name].append(seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {"frames": frames, **{f"seconds_{k}": round(v, 3) for k, v in med.items()},
           **{f"speedup_{k}_vs_recompute": round(med["recompute"] / v, 2) for k, v in med.items() if k != "recompute"},
           "identical_tokens": all(torch.equal(tokens["cache"], t) for t in tokens.values())}
    if "compiled" in warm:
        row["seconds_first_compiled_call"] = round(warm["compiled"], 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--frames", type=int, nargs="+", default=[200, 500], help="frames to generate (50 per second)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    ap.add_argument("--out", type=Path, default=None, help="also write the result here (JSON)")
    args = ap.parse_args()
    lm, patches, dim = build(args.profile, max(args.frames))
    lm = lm.to(args.device)
    cond = torch.randn(args.batch, patches, dim, device=args.device)
    variants = {"cache": {"use_cache": True}, "recompute": {"use_cache": False}}
    if not args.no_compile:
        variants["compiled"] = {"use_cache": True, "compile_step": True}
    rows = [time_runs(lm, cond, frames, args.repeats, variants) for frames in args.frames]
    result = {
        "profile": args.profile, "lm": {"dim": lm.cfg.dim, "layers": lm.cfg.layers, "heads": lm.cfg.heads,
                                        "groups": lm.cfg.groups},
        "device": torch.cuda.get_device_name() if cond.is_cuda else f"cpu, {torch.get_num_threads()} threads",
        "batch": args.batch, "torch": torch.__version__, "runs": rows,
    }
    print(json.dumps(result, indent=1))
    if args.out is not None:
        from hsm_lib.io import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
