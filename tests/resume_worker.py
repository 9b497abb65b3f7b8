"""A training run for the kill-and-resume tests (tests/test_train_loop.py): the real AudioMAE
trainer on a tiny model and seeded random fbanks, with a resumable state.

    python tests/resume_worker.py OUT_WEIGHTS [--state-dir DIR] [--slow SECONDS] [--steps N]

``--slow`` sleeps in every forward pass so that a test can kill the run part-way through.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.train.audiomae import MAETrainConfig, fit_audiomae


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--slow", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = torch.Generator().manual_seed(123)
    train = torch.randn(24, 32, 32, generator=data)
    val = torch.randn(4, 32, 32, generator=data)
    cfg = MAETrainConfig(steps=args.steps, batch_size=4, lr=1e-3, warmup_steps=3, eval_every=7, checkpoint_every=4,
                         device="cpu", seed=5)
    torch.manual_seed(cfg.seed)
    model = AudioMAE(AudioMAEConfig(n_frames=32, n_mels=32, patch=8, dim=16, depth=1, heads=2, decoder_dim=16,
                                    decoder_depth=1, decoder_heads=2))
    if args.slow:
        forward = model.forward

        def slow_forward(*a, **k):
            time.sleep(args.slow)
            return forward(*a, **k)

        model.forward = slow_forward
    history = fit_audiomae(model, train, val, cfg, progress=True, state_dir=args.state_dir)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out)
    print(f"finished: final loss {history['loss'][-1]:.6f}, {len(history['loss'])} losses in the history", flush=True)


if __name__ == "__main__":
    main()
