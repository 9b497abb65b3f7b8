"""A training run for the multi-process tests (tests/test_distributed.py): the shared Trainer on a
small regression model, run alone or under ``torchrun`` (gloo on CPU).

    python tests/ddp_worker.py OUT [--batch 8] [--accumulate 1] [--steps 12] [--state-dir DIR]
        [--die-at STEP --die-flag FILE]
    torchrun --standalone --nproc_per_node=2 tests/ddp_worker.py OUT ...

Rank 0 writes the final weights to OUT (safetensors). ``--die-at`` makes rank 1 SIGKILL itself at
that step, once (``--die-flag`` records that it did), so that a test can check that a run
killed and restarted by the launcher resumes.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import torch
from safetensors.torch import save_file

from hsm_lib.train.distributed import world_from_env
from hsm_lib.train.loop import Trainer, TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--accumulate", type=int, default=1)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--die-at", type=int, default=0)
    ap.add_argument("--die-flag", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = torch.Generator().manual_seed(7)
    x = torch.randn(40, 6, generator=data)
    y = torch.sin(x @ torch.randn(6, 3, generator=data))
    torch.manual_seed(3)   # the same initial weights on every rank
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    # trained but never used by the loss: its gradient stays None, so AdamW must leave it as it is
    unused = torch.nn.Linear(4, 4)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch, lr=1e-2, warmup_steps=2, checkpoint_every=3,
                      device="cpu", seed=11, accumulate=args.accumulate)
    trainer = Trainer(cfg, [model, unused], n_examples=len(x), state_dir=args.state_dir, desc="ddp-test",
                      progress=False, splittable=True)
    world = world_from_env()

    def step(k: int, idx: torch.Tensor):
        if args.die_at and k == args.die_at and world.rank == 1 and not Path(args.die_flag).exists():
            Path(args.die_flag).write_text("killed once\n")
            os.kill(os.getpid(), signal.SIGKILL)
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        return loss, {"loss": float(loss)}

    trainer.fit(step)
    if world.is_main:
        weights = {**model.state_dict(), **{f"unused.{k}": v for k, v in unused.state_dict().items()}}
        save_file({k: v.contiguous() for k, v in weights.items()}, args.out)
        print(f"finished on {world.size} process(es) at step {trainer.step}", flush=True)


if __name__ == "__main__":
    main()
