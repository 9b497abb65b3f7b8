"""The one training loop: strict configs, state files, and resuming after a kill (bit-identical)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hsm_lib.config import ConfigError, profile_section
from hsm_lib.train.loop import IndexSampler, Trainer, TrainConfig
from hsm_lib.train.state import load_state, save_state

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "resume_worker.py"


def test_unknown_training_key_names_the_key_and_the_section():
    from hsm_lib.train.audiomae import MAETrainConfig

    with pytest.raises(ConfigError, match=r"'stepz'.*audiomae\.train"):
        MAETrainConfig.from_params({"steps": 3, "stepz": 4}, "audiomae.train")
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp8")


def test_every_profile_builds_every_trainer_config():
    """The shared knobs are set in params.yaml for each trainer, and no key is unknown."""
    from hsm_lib.train.acoustic_lm import LMTrainConfig
    from hsm_lib.train.audiomae import MAETrainConfig
    from hsm_lib.train.baseline import BaselineTrainConfig
    from hsm_lib.train.codec import CodecTrainConfig
    from hsm_lib.train.eval_clap import EvalCLAPTrainConfig
    from hsm_lib.train.qaudio import QAudioTrainConfig
    from hsm_lib.train.separation import SepTrainConfig

    trainers = {"audiomae": MAETrainConfig, "qaudio": QAudioTrainConfig, "codec": CodecTrainConfig,
                "acoustic_lm": LMTrainConfig, "global_sep": SepTrainConfig, "local_sep": SepTrainConfig,
                "joint_ft": SepTrainConfig, "baselines": BaselineTrainConfig, "eval_clap": EvalCLAPTrainConfig}
    for profile in ("smoke", "cpu", "paper"):
        for stage, cls in trainers.items():
            section = profile_section(stage, profile)["train"]
            for key in ("betas", "grad_clip", "warmup_steps", "precision", "log_every", "checkpoint_every"):
                assert key in section, f"{profile}.{stage}.train lacks {key}"
            cfg = cls.from_params(section, f"{profile}.{stage}.train")
            assert len(cfg.betas) == 2 and cfg.to_dict()["betas"] == list(cfg.betas)


def test_state_round_trip_keeps_types(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"opt": opt.state_dict(), "t": (1, 2.5, None), "np": np.arange(4, dtype=np.uint32),
             "big": 2**100, "h": {"loss": [1.0, float("nan")]}}
    save_state(tmp_path / "s", state)
    back = load_state(tmp_path / "s")
    assert set(back["opt"]["state"]) == {0, 1}  # int keys survive
    torch.testing.assert_close(back["opt"]["state"][0]["exp_avg"], state["opt"]["state"][0]["exp_avg"])
    assert back["t"] == (1, 2.5, None) and back["big"] == 2**100
    assert back["np"].dtype == np.uint32 and back["np"].tolist() == [0, 1, 2, 3]
    assert load_state(tmp_path / "missing") is None


def test_sampler_resumes_mid_epoch():
    a = IndexSampler(10, 4, torch.Generator().manual_seed(0))
    first = [a.next() for _ in range(3)]
    b = IndexSampler(10, 4, torch.Generator().manual_seed(99))
    b.load_state_dict(a.state_dict())
    b.generator.set_state(a.generator.get_state())
    assert all(torch.equal(a.next(), b.next()) for _ in range(7))
    assert len(first) == 3


def _tiny_run(state_dir, crash_at: int | None = None, steps: int = 12, **cfg_kw):
    """A Trainer on a small MLP whose step draws from every RNG the loop restores."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
    cfg = TrainConfig(steps=steps, batch_size=5, lr=1e-2, warmup_steps=2, checkpoint_every=3, device="cpu", **cfg_kw)
    run = Trainer(cfg, [model], n_examples=17, state_dir=state_dir, progress=False)
    x = torch.randn(17, 4, generator=torch.Generator().manual_seed(1))

    def step(k, idx):
        if k == crash_at:
            raise KeyboardInterrupt
        noise = torch.randn(len(idx), 1) + float(run.rng.normal()) + float(np.random.rand())
        loss = (model(x[idx]) - noise).pow(2).mean()
        return loss, {"loss": loss.item()}

    return model, run.fit(step)


def test_in_process_resume_is_bit_identical(tmp_path):
    ref, ref_hist = _tiny_run(None)
    with pytest.raises(KeyboardInterrupt):
        _tiny_run(tmp_path / "state", crash_at=8)
    assert load_state(tmp_path / "state")["step"] == 6  # the last checkpoint before the crash
    resumed, hist = _tiny_run(tmp_path / "state")
    assert hist == ref_hist
    for a, b in zip(ref.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_state_of_another_configuration_is_ignored(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _tiny_run(tmp_path / "state", crash_at=5)
    ref, ref_hist = _tiny_run(None, steps=9)
    other, hist = _tiny_run(tmp_path / "state", steps=9)   # steps differ: start afresh
    assert hist == ref_hist


def test_codec_gan_resumes_bit_identical(tmp_path, monkeypatch):
    """The codec keeps a second optimizer (the discriminator's) inside the same loop."""
    import hsm_lib.train.codec as tc
    from hsm_lib.models.codec import Codec, CodecConfig
    from hsm_lib.models.codec_losses import DiscriminatorConfig, MultiScaleMelDiscriminator

    waves = (np.random.default_rng(0).standard_normal((4, 8000)) * 3000).astype(np.int16)
    cfg = tc.CodecTrainConfig(steps=5, batch_size=2, segment_seconds=0.2, adversarial_from=1, quantizer_warmup=1,
                              warmup_steps=1, checkpoint_every=2, device="cpu")

    def run(state_dir):
        torch.manual_seed(0)
        codec = Codec(CodecConfig(channels=4, strides=[2, 4, 5, 8], latent_dim=24, groups=12, codebook_size=16))
        disc = MultiScaleMelDiscriminator(DiscriminatorConfig(ffts=[512], mels=[32], channels=4), 16000)
        hist = tc.fit_codec(codec, disc, waves, cfg, progress=False, state_dir=state_dir)
        return codec, disc, hist

    ref_codec, ref_disc, ref_hist = run(None)
    real_segments, calls = tc.random_segments, []

    def crashing(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_segments(*a, **k)

    monkeypatch.setattr(tc, "random_segments", crashing)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "state")
    monkeypatch.setattr(tc, "random_segments", real_segments)
    codec, disc, hist = run(tmp_path / "state")
    assert hist == ref_hist
    for a, b in zip([*ref_codec.state_dict().values(), *ref_disc.state_dict().values()],
                    [*codec.state_dict().values(), *disc.state_dict().values()]):
        assert torch.equal(a, b)


def _worker(args, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def _kill_when_state_reaches(proc: subprocess.Popen, state_dir: Path, step: int, group: bool = False,
                             timeout: float = 120.0) -> int:
    """SIGKILL ``proc`` (or its process group) once a saved state has reached ``step``; the step."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = load_state(state_dir) if (state_dir / "state.json").exists() else None
        if state is not None and state["step"] >= step:
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
            proc.wait()
            return state["step"]
        assert proc.poll() is None, f"the run ended before it could be killed:\n{proc.stdout.read()}"
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("no state was saved in time")


@pytest.mark.slow
def test_sigkill_then_rerun_gives_the_uninterrupted_weights(tmp_path):
    ref = _worker([tmp_path / "ref.safetensors"])
    assert ref.wait() == 0, ref.stdout.read()
    state = tmp_path / "state"
    proc = _worker([tmp_path / "out.safetensors", "--state-dir", state, "--slow", 0.05])
    killed_at = _kill_when_state_reaches(proc, state, 12)
    assert proc.returncode == -signal.SIGKILL and not (tmp_path / "out.safetensors").exists()
    assert 12 <= killed_at < 40
    rerun = _worker([tmp_path / "out.safetensors", "--state-dir", state])
    out = rerun.communicate()[0]
    assert rerun.returncode == 0, out
    assert f"resuming at step {killed_at} of 40" in out
    a, b = load_file(tmp_path / "ref.safetensors"), load_file(tmp_path / "out.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    print(f"killed at step {killed_at} of 40; resumed run bit-identical to the uninterrupted one")


DVC_YAML = """stages:
  train:
    cmd: {python} {worker} model/weights.safetensors --state-dir train_state --slow {slow}
    deps: [{worker}]
    outs: [model]
"""


@pytest.mark.slow
def test_dvc_repro_after_a_kill_resumes(tmp_path):
    """`dvc repro` deletes a stage's outputs before it reruns the stage, but not the training
    state kept beside them: the rerun picks up where the killed one stopped."""
    dvc = Path(sys.executable).with_name("dvc")
    ref = _worker([tmp_path / "ref.safetensors"])
    assert ref.wait() == 0, ref.stdout.read()
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([str(dvc), "init", "-q"], cwd=repo, check=True)
    (repo / "model").mkdir()
    (repo / "model" / "stale.txt").write_text("from an earlier run")
    (repo / "dvc.yaml").write_text(DVC_YAML.format(python=sys.executable, worker=WORKER, slow=0.05))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(dvc), "repro"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    killed_at = _kill_when_state_reaches(proc, repo / "train_state", 12, group=True)
    assert not (repo / "model" / "stale.txt").exists()  # DVC removed the stage's outputs before running it
    rerun = subprocess.run([str(dvc), "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"resuming at step {killed_at} of 40" in rerun.stdout + rerun.stderr
    a, b = load_file(tmp_path / "ref.safetensors"), load_file(repo / "model" / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    print(f"dvc repro killed at step {killed_at} of 40; the second dvc repro resumed and matched")
