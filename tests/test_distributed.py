"""Training under torchrun: two CPU processes (gloo) take the same steps as one process on the
same global batch, gradient accumulation changes nothing but memory, and a run killed and
relaunched under the launcher resumes where its last state was saved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "ddp_worker.py"


def launch(out: Path, *args: str, procs: int = 1) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
                if procs > 1 else [sys.executable])
    return subprocess.run([*launcher, str(WORKER), str(out), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})


def run(out: Path, *args: str, procs: int = 1) -> dict[str, torch.Tensor]:
    result = launch(out, *args, procs=procs)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return load_file(str(out))


def assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=atol), (k, (a[k] - b[k]).abs().max().item())


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict[str, torch.Tensor]:
    return run(tmp_path_factory.mktemp("one") / "w.safetensors")


def test_two_processes_step_like_one_on_the_global_batch(one_process, tmp_path):
    two = run(tmp_path / "two.safetensors", procs=2)
    assert_close(two, one_process)   # the unused layer too: no rank gave it a gradient, so none moved it
    torch.manual_seed(0)
    assert not torch.equal(one_process["0.weight"], torch.nn.Linear(6, 16).weight)


def test_a_loss_that_is_not_per_example_refuses_to_be_split():
    from hsm_lib.config import ConfigError
    from hsm_lib.train.loop import Trainer, TrainConfig

    with pytest.raises(ConfigError, match="contrastive|in-batch negatives"):
        Trainer(TrainConfig(steps=1, accumulate=2, device="cpu"), [torch.nn.Linear(2, 2)], n_examples=8, progress=False)
    Trainer(TrainConfig(steps=1, accumulate=2, device="cpu"), [torch.nn.Linear(2, 2)], n_examples=8, progress=False,
            splittable=True)


def test_gradient_accumulation_takes_the_same_steps(one_process, tmp_path):
    assert_close(run(tmp_path / "acc.safetensors", "--accumulate", "2"), one_process)
    # uneven parts (2 processes x 4 examples, each in parts of 2, 1 and 1) still weight every example once
    assert_close(run(tmp_path / "acc3.safetensors", "--accumulate", "3", procs=2), one_process)


def test_a_killed_run_restarted_under_the_launcher_resumes(tmp_path):
    uninterrupted = run(tmp_path / "plain.safetensors", "--state-dir", str(tmp_path / "plain_state"), procs=2)
    flag, out, state = tmp_path / "killed", tmp_path / "resumed.safetensors", str(tmp_path / "state")
    killed = launch(out, "--state-dir", state, "--die-at", "8", "--die-flag", str(flag), procs=2)
    assert flag.exists() and killed.returncode != 0 and not out.exists(), "rank 1 was never killed"
    alone = launch(out, "--state-dir", state, procs=1)   # one process may not continue a two-process run
    assert alone.returncode != 0 and "saved by 2 processes" in alone.stderr and not out.exists()
    resumed = run(out, "--state-dir", state, "--die-at", "8", "--die-flag", str(flag), procs=2)
    assert_close(resumed, uninterrupted, atol=0)   # bit-identical: restored from the step-6 state, every rank's RNG too
