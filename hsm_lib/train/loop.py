"""The one training loop every trainer runs, resumable after a kill.

A trainer builds a :class:`Trainer` (the models, one AdamW with warm-up + cosine, the seeded
RNGs and the data order), then calls :meth:`Trainer.fit` with a *step function*: given the step
number and the batch's example indices, it returns the loss to minimise and the numbers to log.
The loop does the rest (autocast, backward, clipping, the optimizer and schedule, the history,
the progress bar) in one place, with every knob a field of :class:`TrainConfig`.

Resuming: with a ``state_dir``, every ``checkpoint_every`` steps (and at the end) the loop writes,
atomically, the models, optimizers, schedulers, the step, the history and every RNG state
(Python, NumPy, torch, the loop's own generators and the data order). A new ``Trainer`` with the
same ``state_dir`` and the same configuration picks up from there, and the run ends bit-identical
to one that was never interrupted (checked by ``tests/test_train_loop.py`` with SIGKILL). A state
whose configuration differs is ignored, with a warning, and training starts afresh.

Models with more than one optimizer (the codec's GAN) keep the second one themselves and hand it
to the loop as ``extra_state`` so that it is saved and restored with the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from hsm_lib.config import ConfigError, from_section
from hsm_lib.train.common import resolve_device, seed_everything, warmup_cosine
from hsm_lib.train.distributed import average_gradients, barrier, gather_objects, join, shard, world_from_env
from hsm_lib.train.state import load_state, save_state

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "auto": "auto"}


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The forward pass's autocast dtype: None for fp32; "auto" is bf16 on a CUDA device that
    supports it (the paper profile's GPUs) and fp32 elsewhere (a CPU gains nothing from it)."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    return PRECISIONS[precision]


@dataclass
class TrainConfig:
    """What every trainer shares; each trainer's config adds its own fields. Set per profile in
    the ``train`` mapping of each stage's section of params.yaml."""

    steps: int = 1000
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)   # AdamW's (beta1, beta2)
    # False: no weight decay on 1-D parameters (biases, norms), as MAE and nanoGPT; True: decay
    # on every parameter (torch's AdamW default), as the codec and the separation stages train.
    decay_all_params: bool = False
    warmup_steps: int = 50
    grad_clip: float | None = 1.0   # max global gradient norm; None: no clipping
    precision: str = "fp32"         # "fp32", "bf16" autocast for the forward pass, or "auto": bf16 on CUDA, else fp32
    log_every: int = 20             # steps between progress-bar updates
    checkpoint_every: int = 0       # steps between resumable states (0: only at the end)
    seed: int = 0
    device: str = "auto"
    # Gradient accumulation: each process's share of a batch runs as this many micro-batches, one
    # backward pass each, before one optimizer step (the same step, in less memory). Under torchrun
    # the batch is the global one, split over the processes first.
    accumulate: int = 1

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # YAML gives a list
        if len(self.betas) != 2:
            raise ConfigError(f"betas must be two numbers, got {list(self.betas)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.steps < 0 or self.batch_size < 1:
            raise ConfigError(f"steps must be >= 0 and batch_size >= 1, got {self.steps} and {self.batch_size}")
        if self.accumulate < 1:
            raise ConfigError(f"accumulate must be >= 1, got {self.accumulate}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any], section: str = "train"):
        """Build from a params.yaml mapping. An unknown key is an error naming it and ``section``:
        a typo must never train silently with the default."""
        return from_section(cls, params, section)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration, as stored in checkpoints."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        if d["accumulate"] == 1:  # stored only when set: checkpoints written before it existed stay as they were
            del d["accumulate"]
        return d


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


class GeneratorState:
    """A torch generator seen as a Stateful, so the loop can save and restore it."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["state"])


class IndexSampler:
    """Batches of example indices, epoch by epoch from fresh permutations of ``range(n)``
    drawn with ``generator``; its position is part of the resumable state."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        if n <= 0:
            raise ValueError("no training examples")
        self.n, self.batch_size, self.generator = n, min(batch_size, n), generator
        self.order: torch.Tensor | None = None   # drawn at the first batch, not before
        self.pos = 0

    def next(self) -> torch.Tensor:
        """[batch_size] long indices."""
        if self.order is None or self.pos + self.batch_size > self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
        batch = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order, self.pos = state["order"], state["pos"]


def adamw(modules: Iterable[torch.nn.Module], lr: float, weight_decay: float, betas: tuple[float, float],
          decay_all_params: bool = False) -> torch.optim.AdamW:
    """AdamW over the trainable parameters of ``modules`` (in order, each parameter once)."""
    params, seen = [], set()
    for m in modules:
        for p in m.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    if decay_all_params:
        groups = [{"params": params, "weight_decay": weight_decay}]
    else:
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def _global_rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_global_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


StepFn = Callable[[int, "torch.Tensor | None"], tuple[torch.Tensor, dict[str, float]]]


class Trainer:
    """One optimisation run: models, optimizer, schedule, RNGs, data order, history.

    Args:
        cfg: the run's :class:`TrainConfig` (or a subclass).
        optimized: the modules the loop's optimizer trains (moved to the device, train mode).
        n_examples: the number of training examples, for :class:`IndexSampler` batches of
            ``cfg.batch_size`` (None: the step function draws its own data, e.g. random crops).
        splittable: the step's loss is a mean of independent per-example terms, so a batch may be
            split into micro-batches (``cfg.accumulate``) and over processes (torchrun). Losses with
            in-batch negatives (contrastive) or a discriminator are not, and refuse both.
        state_dir: where the resumable state lives (None: no checkpoints, no resuming).
        extra_state: anything else to save and restore with the run (a second model and its
            optimizer, another generator), by name.
        desc: the progress bar's label.

    Creating the trainer seeds Python, NumPy and torch with ``cfg.seed``; ``generator`` (torch)
    and ``rng`` (NumPy) are the run's own seeded generators for the step function's draws.

    Under ``torchrun`` (:mod:`hsm_lib.train.distributed`) every rank draws the same global batch
    of indices and runs ``step_fn`` on its share; the gradients are averaged over the ranks, so
    for a ``splittable`` loss a step is one process's step on the whole batch (exactly, when the
    step draws no random numbers; a token-mean over parts of unequal token counts is close to it). Each rank's own draws (``generator``,
    ``rng``, the global RNGs) are seeded with ``cfg.seed + rank``; rank 0 alone saves the state.
    """

    def __init__(self, cfg: TrainConfig, optimized: Iterable[torch.nn.Module], n_examples: int | None = None,
                 state_dir: str | Path | None = None, extra_state: Mapping[str, Stateful] | None = None,
                 desc: str = "train", progress: bool = True, splittable: bool = False):
        self.world = world_from_env()
        if (cfg.accumulate > 1 or self.world.distributed) and not (splittable and n_examples is not None):
            raise ConfigError(
                f"{desc}: its batch cannot be split into micro-batches (accumulate: {cfg.accumulate}) or over "
                f"{self.world.size} processes: its loss is not a mean of independent per-example terms (in-batch "
                "negatives, a discriminator, or batches the step draws itself)")
        self.cfg, self.desc, self.progress = cfg, desc, progress and self.world.is_main
        self.device = join(self.world, resolve_device(cfg.device))
        self.generator = seed_everything(cfg.seed + self.world.rank)
        self.rng = np.random.default_rng(cfg.seed + self.world.rank)
        self.modules = list(optimized)
        for m in self.modules:
            m.to(self.device).train()
        self.optimizer = adamw(self.modules, cfg.lr, cfg.weight_decay, cfg.betas, cfg.decay_all_params)
        self.scheduler = warmup_cosine(self.optimizer, cfg.warmup_steps, cfg.steps)
        # the global batch order is the same on every rank: its own generator under torchrun
        self.order = torch.Generator().manual_seed(cfg.seed) if self.world.distributed else self.generator
        self.sampler = IndexSampler(n_examples, cfg.batch_size, self.order) if n_examples is not None else None
        self.extra_state = dict(extra_state or {})
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.step = 0
        self.history: dict[str, list] = {"step": []}

    # --- the resumable state ---------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Hash of what makes a saved state belong to this run: the configuration, the label and
        the names and shapes of every saved tensor of the models."""
        shapes = {f"{i}.{k}": list(v.shape) for i, m in enumerate(self.modules) for k, v in m.state_dict().items()}
        key = json.dumps({"cfg": {k: v for k, v in self.cfg.to_dict().items() if k != "device"},
                          "desc": self.desc, "shapes": shapes, "extra": sorted(self.extra_state)}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def _rng_state(self) -> dict[str, Any]:
        return {**_global_rng_state(), "generator": self.generator.get_state(), "numpy_generator": self.rng.bit_generator.state}

    def _state(self, rngs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint(), "step": self.step, "history": self.history,
            "models": [m.state_dict() for m in self.modules],
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "sampler": self.sampler.state_dict() if self.sampler is not None else None,
            "extra": {k: v.state_dict() for k, v in self.extra_state.items()},
            "rng": rngs[0],
            **({"rank_rng": rngs[1:], "order": self.order.get_state()} if self.world.distributed else {}),
        }

    def save(self) -> None:
        """Write the resumable state (rank 0; every rank's random state goes into it)."""
        if self.state_dir is None:
            return
        rngs = gather_objects(self._rng_state(), self.world)
        if self.world.is_main:
            save_state(self.state_dir, self._state(rngs))
        barrier(self.world)

    def try_resume(self) -> bool:
        """Load the saved state if there is one for this run; True if it did."""
        if self.state_dir is None:
            return False
        state = load_state(self.state_dir)
        if state is None:
            return False
        if state["fingerprint"] != self.fingerprint():
            log.warning("%s: ignoring the training state in %s, saved for another configuration", self.desc, self.state_dir)
            return False
        for m, sd in zip(self.modules, state["models"]):
            m.load_state_dict(sd)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.sampler is not None:
            self.sampler.load_state_dict(state["sampler"])
        for k, v in self.extra_state.items():
            v.load_state_dict(state["extra"][k])
        if self.world.distributed and len(state.get("rank_rng", [])) != self.world.size - 1:
            raise RuntimeError(f"{self.desc}: the state in {self.state_dir} was saved by another number of processes "
                               f"than the {self.world.size} running now; remove it to start afresh")
        if not self.world.distributed and "rank_rng" in state:
            raise RuntimeError(f"{self.desc}: the state in {self.state_dir} was saved by {len(state['rank_rng']) + 1} "
                               "processes, and this is one; remove it to start afresh")
        rng = state["rng"] if self.world.rank == 0 else state["rank_rng"][self.world.rank - 1]
        if self.world.distributed:
            self.order.set_state(state["order"])
        _set_global_rng_state(rng)
        self.generator.set_state(rng["generator"])
        self.rng.bit_generator.state = rng["numpy_generator"]
        self.step, self.history = state["step"], state["history"]
        log.info("%s: resumed at step %d of %d from %s", self.desc, self.step, self.cfg.steps, self.state_dir)
        return True

    # --- the loop --------------------------------------------------------------------------------

    def fit(self, step_fn: StepFn, on_step: Callable[[int], dict[str, float] | None] | None = None) -> dict[str, list]:
        """Run to ``cfg.steps`` (resuming first if a state is saved) and return the history.

        ``step_fn(step, idx)`` gets the 1-based step and the batch's indices (None without
        ``n_examples``), runs the forward pass and returns ``(loss, logs)``; the loop
        backpropagates ``loss``. ``logs`` (floats) are appended to the history under their
        names. ``on_step(step)``, after the optimizer step, may return more logs (a validation
        loss, say); it is called on every step, and decides itself when to do work.
        """
        cfg = self.cfg
        self.try_resume()
        if self.step and self.progress:
            print(f"[{self.desc}] resuming at step {self.step} of {cfg.steps} ({self.state_dir})")
        # Clip in the modules' own parameter order: the global norm's float sum depends on it.
        params = [p for m in self.modules for p in m.parameters() if p.requires_grad]
        dtype = autocast_dtype(cfg.precision, self.device)
        bar = tqdm(range(self.step + 1, cfg.steps + 1), total=cfg.steps, initial=self.step, desc=self.desc,
                   disable=not self.progress)
        for step in bar:
            self.optimizer.zero_grad(set_to_none=True)
            logs = self._backward(step_fn, step, dtype)
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step = step
            self.history["step"].append(step)
            for k, v in {**logs, **((on_step(step) if on_step else None) or {})}.items():
                self.history.setdefault(k, []).append(v)
            if step % cfg.log_every == 0 or step == cfg.steps:
                bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in self.history.items() if not k.endswith("step") and v}, refresh=False)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                self.save()
        self.save()  # the finished run: a rerun after a later crash in the stage trains nothing
        for m in self.modules:
            m.eval()
        return self.history

    def _backward(self, step_fn: StepFn, step: int, dtype: torch.dtype | None) -> dict[str, float]:
        """Accumulate the gradient of one step's loss: this rank's share of the batch, in
        ``cfg.accumulate`` micro-batches, then averaged over the ranks. Each part's loss is
        weighted by its share of the global batch, so the gradient is that of the whole batch's
        mean loss. Returns the step function's logs, averaged the same way over this rank's parts."""
        k, world = self.cfg.accumulate, self.world
        idx = self.sampler.next() if self.sampler is not None else None
        if idx is None:   # the step function draws its own batch: every part draws one
            parts, weights = [None] * k, [1.0 / k] * k
        else:
            mine = shard(idx, world)
            parts = [p for p in mine.tensor_split(k) if len(p)]
            weights = [len(p) * world.size / len(idx) for p in parts]   # sums to world.size * len(mine) / len(idx)
        logs: dict[str, float] = {}
        for part, w in zip(parts, weights):
            with torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss, part_logs = step_fn(step, part)
            if w != 1.0:
                loss = loss * w
            loss.backward()
            for name, v in part_logs.items():
                logs[name] = logs.get(name, 0.0) + v * w / sum(weights)
        if world.distributed:
            params = [p for m in self.modules for p in m.parameters() if p.requires_grad]
            average_gradients(params, 1.0 / world.size, world)
        return logs
