"""The ResUNet-FiLM baseline (AudioSep architecture) and the ideal-ratio-mask ceiling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsm_lib.models.resunet import ResUNetConfig, ResUNetFiLM, ideal_ratio_mask_output

TINY = dict(text_dim=8, n_fft=256, hop=64, channels=[4, 8, 8], film_hidden=16)


def test_shapes_and_mask_range():
    torch.manual_seed(0)
    model = ResUNetFiLM(ResUNetConfig(**TINY)).eval()
    x = torch.randn(2, 3001) * 0.1
    with torch.no_grad():
        y = model(x, torch.randn(2, 8))
        m = model.mask(model.stft(x).abs(), torch.randn(2, 8))
    assert y.shape == x.shape and m.shape == model.stft(x).shape
    assert float(m.min()) >= 0 and float(m.max()) <= 1


def test_the_text_conditions_every_block_through_film():
    torch.manual_seed(0)
    model = ResUNetFiLM(ResUNetConfig(**TINY)).eval()
    x, a, b = torch.randn(1, 4000) * 0.1, torch.randn(1, 8), torch.randn(1, 8)
    with torch.no_grad():
        assert torch.allclose(model(x, a), model(x, b))  # FiLM starts as the identity
        for blk in [*model.enc, model.mid, *model.dec]:
            torch.nn.init.normal_(blk.film.weight, std=0.5)
        assert not torch.allclose(model(x, a), model(x, b))


def test_unit_mask_reconstructs_the_mixture():
    torch.manual_seed(0)
    model = ResUNetFiLM(ResUNetConfig(**TINY)).eval()
    x = torch.randn(2, 5000) * 0.1
    spec = model.stft(x)
    assert torch.allclose(model.istft(spec, 5000), x, atol=1e-5)


def test_ideal_ratio_mask_ceiling():
    rng = np.random.default_rng(0)
    t = torch.from_numpy(rng.standard_normal((2, 8000)).astype(np.float32))
    assert torch.allclose(ideal_ratio_mask_output(t, t, torch.zeros_like(t)), t, atol=1e-4)  # nothing to remove
    o = torch.from_numpy(rng.standard_normal((2, 8000)).astype(np.float32))
    y = ideal_ratio_mask_output(t + o, t, o)
    assert float(((y - t) ** 2).mean()) < float((o ** 2).mean())  # better than the mixture


def test_training_lowers_the_loss():
    from hsm_lib.train.baseline import BaselineTrainConfig, fit_resunet

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    target = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    audio = np.stack([np.stack([target, (3000 * rng.standard_normal(8000)).astype(np.int16)]) for _ in range(4)])
    model = ResUNetFiLM(ResUNetConfig(**TINY))
    hist = fit_resunet(model, audio, torch.randn(4, 8), BaselineTrainConfig(steps=30, batch_size=4, segment_seconds=0.25,
                                                                            lr=3e-3, warmup_steps=2, device="cpu"), progress=False)
    assert np.mean(hist["loss"][-5:]) < 0.8 * np.mean(hist["loss"][:5])
    with pytest.raises(ValueError, match="caption embeddings"):
        fit_resunet(model, audio, torch.randn(3, 8), BaselineTrainConfig(steps=1), progress=False)


def test_power_normalised_mse_is_scale_free_and_both_sources_needs_the_other_caption():
    from hsm_lib.train.baseline import BaselineTrainConfig, fit_resunet, power_normalised_mse

    torch.manual_seed(0)
    e, t, o = torch.randn(3, 2, 4000).unbind(0)
    loss = power_normalised_mse(e, t, t + o)
    assert torch.allclose(power_normalised_mse(7 * e, 7 * t, 7 * (t + o)), loss, rtol=1e-5)
    # each example counts the same: a quiet example's error weighs as much as a loud one's
    quiet = torch.stack([e[0], 1e-3 * e[1]]), torch.stack([t[0], 1e-3 * t[1]]), torch.stack([t[0] + o[0], 1e-3 * (t[1] + o[1])])
    assert torch.allclose(power_normalised_mse(*quiet), loss, rtol=1e-5)
    audio = np.zeros((4, 2, 8000), np.int16)
    with pytest.raises(ValueError, match="other source's caption"):
        fit_resunet(ResUNetFiLM(ResUNetConfig(**TINY)), audio, torch.randn(4, 8),
                    BaselineTrainConfig(steps=1, both_sources=True), progress=False)
    with pytest.raises(Exception, match="nmse"):
        BaselineTrainConfig(loss="snr")


def test_eval_clap_learns_to_match_and_scores_by_cosine():
    from hsm_lib.models.eval_clap import EvalCLAP, EvalCLAPConfig, clap_score
    from hsm_lib.train.eval_clap import EvalCLAPTrainConfig, fit_eval_clap

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # 4 classes: audio and text embeddings are noisy views of a class vector
    classes = rng.standard_normal((4, 12))
    label = np.arange(40) % 4
    audio = torch.tensor(classes[label] @ rng.standard_normal((12, 20)) + 0.3 * rng.standard_normal((40, 20)), dtype=torch.float32)
    text_of = {c: classes[c] @ rng.standard_normal((12, 10)) for c in range(4)}
    captions = [[f"class {c}"] for c in label]
    text = torch.tensor(np.stack([text_of[c] for c in label]), dtype=torch.float32)
    model = EvalCLAP(EvalCLAPConfig(audio_dim=20, text_dim=10, hidden=32, embed_dim=8))
    hist = fit_eval_clap(model, audio, captions, text, EvalCLAPTrainConfig(steps=60, batch_size=16, warmup_steps=2),
                         progress=False)
    assert np.mean(hist["loss"][-5:]) < np.mean(hist["loss"][:5])
    s = clap_score(model, audio.numpy(), text.numpy())
    wrong = clap_score(model, audio.numpy(), np.roll(text.numpy(), 1, axis=0))  # every caption of another class
    assert s.shape == (40,) and float(s.mean()) > float(wrong.mean()) + 0.2
    assert float(np.abs(s).max()) <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="caption"):
        fit_eval_clap(model, audio[:3], captions, text, EvalCLAPTrainConfig(steps=1), progress=False)


@pytest.mark.parametrize("loss, both_sources", [("l1", False), ("nmse", True)])
def test_the_caption_decides_what_is_kept_and_swapping_it_costs_si_sdri(loss, both_sources):
    """Two sounds in every mixture, a low tone and a high one; caption A asks for the low one and
    caption B for the high one. After training, each caption keeps its own sound: swapping the
    captions within the batch changes the output and drops SI-SDRi. With ``both_sources`` each
    mixture is also trained as a query for its other tone, by the other caption."""
    from hsm_lib.eval.metrics import si_sdr_improvement
    from hsm_lib.train.baseline import BaselineTrainConfig, fit_resunet

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    tone = lambda hz, phase: np.sin(2 * np.pi * hz * t + phase)
    rows, text = [], []
    cap = torch.randn(2, 8)
    for i in range(16):
        low = 6000 * tone(rng.uniform(250, 350), rng.uniform(0, 6.28))
        high = 6000 * tone(rng.uniform(2500, 3500), rng.uniform(0, 6.28))
        pair = (low, high) if i % 2 == 0 else (high, low)
        rows.append(np.stack(pair).astype(np.int16))
        text.append(cap[i % 2])
    audio, text = np.stack(rows), torch.stack(text)
    model = ResUNetFiLM(ResUNetConfig(**TINY))
    other_text = cap[(torch.arange(16) + 1) % 2]   # the other tone's caption
    fit_resunet(model, audio, text, BaselineTrainConfig(steps=120, batch_size=8, segment_seconds=0.25, lr=3e-3, warmup_steps=5,
                                                        device="cpu", loss=loss, both_sources=both_sources),
                progress=False, other_text=other_text)
    model.eval()
    mix = torch.from_numpy(audio.sum(1).astype(np.float32) / 32768)
    with torch.no_grad():
        right, swapped = model(mix, text).numpy(), model(mix, text.roll(1, 0)).numpy()
    score = lambda out: np.mean([si_sdr_improvement(o, a[0] / 32768, m) for o, a, m in zip(out, audio, mix.numpy())])
    assert np.abs(right - swapped).mean() > 0.1 * np.abs(right).mean()   # the caption changes the output
    assert score(right) > 3.0 and score(right) > score(swapped) + 6.0     # and only the right one separates
