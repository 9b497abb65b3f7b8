"""Training on several processes (GPUs, or CPU processes with gloo) under ``torchrun``.

``torchrun --nproc_per_node=N ...`` starts N copies of a training program and gives each its
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and the rendezvous address); the
:class:`~hsm_lib.train.loop.Trainer` sees them and

* joins the process group (NCCL on CUDA, gloo on CPU) and trains on ``cuda:<LOCAL_RANK>``;
* draws the same global batch of example indices on every rank (the same seeded order), and each
  rank runs its step function on its share (``idx[rank::world]``);
* averages the gradients over the ranks after the backward pass, weighting each rank by its share
  of the batch, so a step equals one process's step on the whole global batch;
* saves the resumable state on rank 0 only (with every rank's own random state gathered into it),
  and every rank restores from it.

Why the gradients are averaged here and not by wrapping the models in
``DistributedDataParallel``: the trainers' step functions call model methods (``model.loss``,
``model.features``), not ``forward``, and DDP synchronises only through the wrapper's forward.
One ``all_reduce`` over a flat buffer of every gradient is what DDP's reducer does too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """Where this process sits: its rank among ``size`` processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, reports and progress bars."""
        return self.rank == 0


def world_from_env() -> World:
    """The World torchrun describes in the environment (a single process without it)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def join(world: World, device: torch.device) -> torch.device:
    """Join the process group once (NCCL for CUDA, gloo otherwise) and return this rank's
    device: ``cuda:<LOCAL_RANK>`` when training on CUDA."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    return device


def shard(idx: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's share of a global batch of indices [B]: every ``size``-th, from ``rank``."""
    return idx[world.rank::world.size] if world.distributed else idx


def average_gradients(params: Iterable[torch.nn.Parameter], weight: float, world: World) -> None:
    """Set each gradient to the ranks' weighted sum, sum_r weight_r grad_r (the weights, each rank's
    share of the global batch, sum to 1), in one all_reduce over a flat buffer."""
    if not world.distributed:
        return
    params = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    # which parameters any rank gave a gradient: one that none did keeps grad None, as in one
    # process (AdamW then leaves it alone: no weight decay, no stale momentum)
    used = torch.tensor([float(p.grad is not None) for p in params], device=grads[0].device if grads else "cpu")
    flat = torch.cat([g.reshape(-1) for g in grads] + [used]) * torch.cat(
        [torch.full((sum(g.numel() for g in grads),), weight, device=used.device), torch.ones_like(used)])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    used = flat[-len(params):] > 0
    offset = 0
    for p, g, any_rank in zip(params, grads, used.tolist()):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(g).to(g.dtype) if any_rank else None
        offset += n


def gather_objects(obj: Any, world: World) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not world.distributed:
        return [obj]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
