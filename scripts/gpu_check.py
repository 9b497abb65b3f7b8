"""Check the GPU path of the `paper` profile: each model at the paper's sizes, trained a few steps
through the project's own trainers on a CUDA device, on synthetic inputs of the paper's shapes.

    python scripts/gpu_check.py [--out DIR] [--steps 10]

Not a test (CI has no GPU) and not a result: it answers "does the paper profile run on a GPU,
how fast is a step, how much memory does it take, and does KV-cache generation pay off at the
paper's size". Each part is timed as (steps + 2) minus 2 steps of the same trainer, so start-up,
allocation and cuDNN autotuning drop out. Writes ``gpu_check.json`` to ``--out`` and prints it.
Q-Audio is left out: its text backbone (FLAN-T5-base) is not on the device machine; H1 and H2
train on synthetic features of the frozen encoders' shapes for the same reason.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from hsm_lib.config import profile_section

PROFILE = "paper"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def per_step(run, steps: int) -> dict:
    """Seconds per step of ``run(n_steps)``: (t(steps + 2) - t(2)) / steps; peak GPU memory."""
    run(1)  # warm-up: CUDA context, kernels, cuDNN autotuning
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    short = timed(lambda: run(2))
    long = timed(lambda: run(steps + 2))
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    return {"seconds_per_step": (long - short) / steps, "peak_gpu_gb": peak}


def check_audiomae(steps: int) -> dict:
    from hsm_lib.features import AudioMAEFeatures
    from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
    from hsm_lib.train.audiomae import MAETrainConfig, fit_audiomae

    data, P = profile_section("data", PROFILE), profile_section("audiomae", PROFILE)
    cfg = AudioMAEConfig(n_frames=data["fbank_frames"], **P["model"])
    batch = P["train"]["batch_size"]
    fb = torch.randn(batch * 2, cfg.n_frames, cfg.n_mels, dtype=torch.float16)

    def run(n):
        torch.manual_seed(0)
        model = AudioMAE(cfg)
        fit_audiomae(model, fb, fb[:64], MAETrainConfig.from_params({**P["train"], "steps": n, "eval_every": 10**9}), progress=False)
        return model

    out = per_step(run, steps)
    model = run(1).eval()
    waves = (np.random.default_rng(0).standard_normal((64, int(data["clip_seconds"] * 16000))) * 3000).astype(np.int16)
    t = timed(lambda: AudioMAEFeatures(model, waves, cfg.n_frames, 0.0, 1.0, cache=True)[torch.arange(64)])
    s = AudioMAEFeatures(model, waves[:2], cfg.n_frames, 0.0, 1.0, cache=False)[torch.arange(2)]
    return {**out, "batch": batch, "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "features_64_clips_s": t, "S_shape": list(s.shape), "S_device": str(s.device)}


def check_codec(steps: int) -> dict:
    from hsm_lib.eval.codec_eval import codec_roundtrip
    from hsm_lib.models.codec import Codec, CodecConfig
    from hsm_lib.models.codec_losses import DiscriminatorConfig, MultiScaleMelDiscriminator
    from hsm_lib.train.codec import CodecTrainConfig, fit_codec

    P = profile_section("codec", PROFILE)
    cfg = CodecConfig(**P["model"])
    t = np.arange(16000 * 4) / 16000
    rng = np.random.default_rng(0)
    waves = np.stack([(3000 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 300 * rng.standard_normal(t.size))
                      for _ in range(64)]).astype(np.int16)

    def run(n):
        torch.manual_seed(0)
        codec, disc = Codec(cfg), MultiScaleMelDiscriminator(DiscriminatorConfig(**P["discriminator"]))
        hist = fit_codec(codec, disc, waves, CodecTrainConfig.from_params({**P["train"], "steps": n}), progress=False)
        return codec, hist

    out = per_step(run, steps)
    codec, hist = run(4)
    rec = codec_roundtrip(codec.eval())(waves[:8].astype(np.float32) / 32768)
    return {**out, "batch": P["train"]["batch_size"], "bitrate": cfg.bitrate, "parameters_m": sum(p.numel() for p in codec.parameters()) / 1e6,
            "losses_finite": bool(all(np.isfinite(v).all() for k, v in hist.items() if k != "step")),
            "roundtrip_shape": list(np.shape(rec))}


def check_acoustic_lm(steps: int) -> dict:
    from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig, pad_generated
    from hsm_lib.models.audiomae import AudioMAEConfig
    from hsm_lib.models.codec import CodecConfig
    from hsm_lib.train.acoustic_lm import LMTrainConfig, fit_acoustic_lm, teacher_forced_ce

    data, P = profile_section("data", PROFILE), profile_section("acoustic_lm", PROFILE)
    mae = AudioMAEConfig(n_frames=data["fbank_frames"], **profile_section("audiomae", PROFILE)["model"])
    codec = CodecConfig(**profile_section("codec", PROFILE)["model"])
    frames = int(data["clip_seconds"] * codec.frame_rate)
    cfg = AcousticLMConfig(cond_dim=mae.dim, groups=codec.groups, codebook_size=codec.codebook_size,
                           max_frames=frames, max_cond=mae.n_patches, **P["model"])
    batch = P["train"]["batch_size"]
    cond = torch.randn(batch * 2, mae.n_patches, mae.dim, dtype=torch.float16)
    tokens = torch.randint(0, codec.codebook_size, (batch * 2, frames, codec.groups), dtype=torch.int16)

    def run(n):
        torch.manual_seed(0)
        lm = AcousticLM(cfg)
        fit_acoustic_lm(lm, cond, tokens, LMTrainConfig.from_params({**P["train"], "steps": n}), progress=False)
        return lm

    out = per_step(run, steps)
    lm = run(1)
    dev = next(lm.parameters()).device
    ce = teacher_forced_ce(lm, cond[:8], tokens[:8])
    # sampling with a CPU generator while the model is on the GPU (as the notebooks do)
    c4 = cond[:4].to(dev, torch.float32)
    gen_tokens, lengths = lm.generate(c4, 50, temperature=0.9, top_k=50, generator=torch.Generator().manual_seed(0))
    padded = pad_generated(gen_tokens, lengths, 50, torch.zeros(codec.groups, dtype=torch.long, device=dev))
    # KV cache against recomputation, greedy, at the paper's size
    with torch.no_grad():
        lm.heads[0].bias[cfg.eos] = -1e9  # never end early: both runs generate every frame
    kv_runs = {}
    for n_frames, b, precision in ((150, 4, "high"), (150, 4, "highest"), (frames, batch, "high")):
        torch.set_float32_matmul_precision(precision)  # "high": TF32 products (what training uses)
        c, res, times = cond[:b].to(dev, torch.float32), {}, {"cache": [], "recompute": []}
        for use_cache in (True, False, True, False):
            t = timed(lambda: res.__setitem__(use_cache, lm.generate(c, n_frames, use_cache=use_cache)[0]))
            times["cache" if use_cache else "recompute"].append(t)
        kv_runs[f"{n_frames}_frames_batch{b}_{precision}"] = {
            "cache_s": min(times["cache"]), "recompute_s": min(times["recompute"]),
            "speedup": min(times["recompute"]) / min(times["cache"]),
            "greedy_identical": bool(torch.equal(res[True], res[False])),
            "greedy_frames_agreeing": float((res[True] == res[False]).all(-1).float().mean())}
    torch.set_float32_matmul_precision("high")
    return {**out, "batch": batch, "parameters_m": sum(p.numel() for p in lm.parameters()) / 1e6,
            "teacher_forced_ce_untrained": ce, "sampled_shape": list(padded.shape), "kv_cache": kv_runs}


def check_separation(steps: int) -> dict:
    """H1, H2 and the ResUNet-FiLM baseline at the paper's sizes: training steps on synthetic
    features (H1/H2 read frozen-encoder outputs, which need the text backbone's weights)."""
    from hsm_lib.models.audiomae import AudioMAEConfig
    from hsm_lib.models.nar import Conditioning, NARConfig, SeparationTransformer, global_loss, local_loss
    from hsm_lib.models.qaudio import QAudioConfig
    from hsm_lib.models.resunet import ResUNetConfig, ResUNetFiLM
    from hsm_lib.train.common import resolve_device

    dev = resolve_device("auto")
    data = profile_section("data", PROFILE)
    mae = AudioMAEConfig(n_frames=data["fbank_frames"], **profile_section("audiomae", PROFILE)["model"])
    q = QAudioConfig(**profile_section("qaudio", PROFILE)["model"])
    c_t, n_text = 768, 32  # FLAN-T5-base width; a caption of 32 tokens
    out = {}
    for name, section, global_dim, audio_dim, audio_len in (("h1", "global_sep", None, q.dim, 1),
                                                           ("h2", "local_sep", q.dim, mae.dim, mae.n_patches)):
        P = profile_section(section, PROFILE)
        cfg = NARConfig(audio_dim=audio_dim, text_dim=q.dim, task_dim=c_t, global_dim=global_dim, audio_len=audio_len,
                        max_text=n_text + 1, **P["model"])
        b = P["train"]["batch_size"]
        cond = Conditioning(torch.randn(b, 2, c_t, device=dev), torch.ones(b, 2, dtype=torch.bool, device=dev),
                            torch.randn(b, n_text + 1, q.dim, device=dev), torch.ones(b, n_text + 1, dtype=torch.bool, device=dev),
                            torch.randn(b, q.dim, device=dev) if global_dim else None)
        x, y = torch.randn(b, audio_len, audio_dim, device=dev), torch.randn(b, audio_len, audio_dim, device=dev)

        def run(n, cfg=cfg, cond=cond, x=x, y=y, name=name):
            torch.manual_seed(0)
            model = SeparationTransformer(cfg).to(dev)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            for _ in range(n):
                pred = model(x, cond)
                loss = global_loss(pred[:, 0], y[:, 0]) if name == "h1" else local_loss(pred, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return model

        r = per_step(run, steps)
        out[name] = {**r, "batch": b, "parameters_m": sum(p.numel() for p in run(0).parameters()) / 1e6}
    P = profile_section("baselines", PROFILE)
    cfg = ResUNetConfig(text_dim=c_t, **P["model"])
    b, seg = P["train"]["batch_size"], int(P["train"]["segment_seconds"] * 16000)
    wave, text = torch.randn(b, seg, device=dev) * 0.1, torch.randn(b, c_t, device=dev)

    def run_unet(n):
        torch.manual_seed(0)
        model = ResUNetFiLM(cfg).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for _ in range(n):
            loss = (model(wave, text) - wave).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return model

    out["resunet_film"] = {**per_step(run_unet, steps), "batch": b,
                           "parameters_m": sum(p.numel() for p in run_unet(0).parameters()) / 1e6}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--only", nargs="*", default=["audiomae", "codec", "acoustic_lm", "separation"])
    ap.add_argument("--profile", default="paper", help="another profile runs the script itself on the CPU (a dry run)")
    args = ap.parse_args()
    global PROFILE
    PROFILE = args.profile
    if not torch.cuda.is_available() and PROFILE == "paper":
        raise SystemExit("gpu_check: torch sees no GPU")
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none (dry run on the CPU)"
    report = {"torch": torch.__version__, "gpu": gpu, "python": platform.python_version(),
              "profile": PROFILE, "steps_timed": args.steps}
    checks = {"audiomae": check_audiomae, "codec": check_codec, "acoustic_lm": check_acoustic_lm,
              "separation": check_separation}
    for name in args.only:
        t0 = time.perf_counter()
        try:
            report[name] = checks[name](args.steps)
        except Exception as exc:  # report every part, even when one breaks
            report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        report[name]["wall_s"] = time.perf_counter() - t0
        print(json.dumps({name: report[name]}, indent=1), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
