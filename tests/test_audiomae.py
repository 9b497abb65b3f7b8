"""AudioMAE: patches, masking, loss, features, checkpoint round trip."""

from __future__ import annotations

import json

import pytest
import torch

from hsm_lib.checkpoint import CheckpointError, load_weights, read_config, save_checkpoint
from hsm_lib.models.audiomae import AudioMAE, AudioMAEConfig
from hsm_lib.train.audiomae import MAETrainConfig, fit_audiomae, masked_loss

TINY = dict(n_frames=64, n_mels=32, patch=16, dim=32, depth=2, heads=2, decoder_dim=16, decoder_depth=1, decoder_heads=2)


def tiny(**kw) -> AudioMAE:
    torch.manual_seed(0)
    return AudioMAE(AudioMAEConfig(**{**TINY, **kw}))


def test_patchify_layout_and_inverse():
    m = tiny()
    x = torch.randn(2, 64, 32)
    p = m.patchify(x)
    assert p.shape == (2, 8, 256)  # 4 time x 2 frequency patches of 16 x 16
    # patch 3 = time patch 1, frequency patch 1: frames 16..31, mel bins 16..31, row-major
    assert torch.equal(p[0, 3].view(16, 16), x[0, 16:32, 16:32])
    assert torch.equal(m.unpatchify(p), x)


def test_masking_ratio_is_exact_and_per_sample():
    keep, mask = AudioMAE.random_mask(5, 200, 0.8, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert keep.shape == (5, 40)
    assert torch.all(mask.sum(1) == 160)
    assert torch.all(mask.gather(1, keep) == 0)  # kept patches are not masked
    assert not torch.equal(mask[0], mask[1])      # each sample draws its own mask


def test_loss_counts_only_masked_patches():
    m = tiny()
    x = torch.randn(2, 64, 32)
    g = torch.Generator().manual_seed(1)
    loss, pred, mask = m(x, generator=g)
    per_patch = ((pred - m.target(x)) ** 2).mean(-1)
    assert torch.allclose(loss, (per_patch * mask).sum() / mask.sum())
    # perturbing the prediction of a visible patch leaves the loss unchanged
    visible = (mask[0] == 0).nonzero()[0, 0]
    pred2 = pred.clone()
    pred2[0, visible] += 10
    per_patch2 = ((pred2 - m.target(x)) ** 2).mean(-1)
    assert torch.allclose((per_patch2 * mask).sum() / mask.sum(), loss)


def test_features_shape_and_no_masking():
    m = tiny().eval()
    x = torch.randn(3, 64, 32)
    s = m.features(x)
    assert s.shape == (3, 8, 32)
    assert torch.allclose(m.features(x), s)  # deterministic: no random masking
    with pytest.raises(ValueError, match="fbank"):
        m.features(torch.randn(3, 60, 32))


def test_reconstruct_keeps_visible_patches():
    m = tiny().eval()
    x = torch.randn(1, 64, 32)
    r = m.reconstruct(x, generator=torch.Generator().manual_seed(0))
    visible = ~torch.isnan(r["masked"])
    assert torch.allclose(r["reconstruction"][visible], x[visible])
    assert abs(float(torch.isnan(r["masked"]).float().mean()) - 6 / 8) < 1e-6  # round(8 * 0.2) = 2 kept


def test_training_reduces_the_validation_loss():
    m = tiny()
    torch.manual_seed(0)
    # learnable structure: every patch of a sample repeats one of four 16 x 16 patterns, so a
    # hidden patch can be inferred from the visible ones (white noise could not be)
    data = torch.randn(4, 16, 16)[torch.randint(0, 4, (48,))].repeat(1, 4, 2)
    before = masked_loss(m, data[40:])
    fit_audiomae(m, data[:40], data[40:], MAETrainConfig(steps=60, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=30), progress=False)
    assert masked_loss(m, data[40:]) < 0.8 * before


def test_safetensors_round_trip(tmp_path):
    m = tiny().eval()
    save_checkpoint(tmp_path / "mae", m, "audiomae", m.cfg.to_dict(), {"history": {"loss": [1.0]}})
    meta = read_config(tmp_path / "mae", "audiomae")
    m2 = load_weights(tmp_path / "mae", AudioMAE(AudioMAEConfig(**meta["config"]))).eval()
    x = torch.randn(2, 64, 32)
    assert torch.equal(m.features(x), m2.features(x))
    assert json.loads((tmp_path / "mae" / "config.json").read_text())["history"] == {"loss": [1.0]}
    assert not list(tmp_path.glob(".mae*")), "no temporary folder is left behind"


def test_checkpoint_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        read_config(tmp_path / "nothing", "audiomae")
    m = tiny()
    save_checkpoint(tmp_path / "mae", m, "audiomae", m.cfg.to_dict())
    with pytest.raises(CheckpointError, match="not a 'qaudio'"):
        read_config(tmp_path / "mae", "qaudio")


def test_config_rejects_untileable_fbank():
    with pytest.raises(ValueError, match="tile"):
        AudioMAEConfig(n_frames=100)
