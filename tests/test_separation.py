"""The separation transformers H1 and H2 (paper Sec. III-C, III-D): conditioning shapes, the losses
of Eq. 5-8, the joint fine-tuning switcher, and attention maps for Fig. 6."""

from __future__ import annotations

import math

import pytest
import torch

from hsm_lib.models.nar import (Conditioning, NARConfig, SeparationTransformer, global_loss, local_loss,
                                switch_global)

C_G, C_S, C_T, P = 12, 10, 8, 6


def cond(b: int, n_text: int = 5, text_dim: int = C_G, with_global: bool = False) -> Conditioning:
    text_mask = torch.ones(b, n_text, dtype=torch.bool)
    text_mask[0, 3:] = False  # a shorter caption in the batch
    return Conditioning(torch.randn(b, 2, C_T), torch.tensor([[True, False]] * b), torch.randn(b, n_text, text_dim),
                        text_mask, torch.randn(b, C_G) if with_global else None)


def h1() -> SeparationTransformer:
    torch.manual_seed(0)
    return SeparationTransformer(NARConfig(audio_dim=C_G, text_dim=C_G, task_dim=C_T, dim=16, layers=2, heads=2)).eval()


def h2(global_dim: int | None = C_G) -> SeparationTransformer:
    torch.manual_seed(0)
    return SeparationTransformer(NARConfig(audio_dim=C_S, text_dim=C_G, task_dim=C_T, global_dim=global_dim,
                                           audio_len=P, dim=16, layers=2, heads=2)).eval()


def test_residual_models_start_from_the_mixture():
    x = torch.randn(3, P, C_S)
    assert torch.equal(h2()(x, cond(3, with_global=True)), x)  # zero correction at initialisation
    torch.manual_seed(0)
    plain = SeparationTransformer(NARConfig(audio_dim=C_S, text_dim=C_G, task_dim=C_T, global_dim=C_G, audio_len=P,
                                            dim=16, layers=2, heads=2, residual=False))
    assert not torch.allclose(plain(x, cond(3, with_global=True)), x)


def randomise_heads(model: SeparationTransformer) -> SeparationTransformer:
    torch.nn.init.normal_(model.head.weight, std=0.2)
    return model


def test_h1_maps_one_global_vector_to_one():
    out = h1()(torch.randn(3, 1, C_G), cond(3))
    assert out.shape == (3, 1, C_G)


def test_h2_maps_patches_to_patches_and_needs_its_global_token():
    model = h2()
    out = model(torch.randn(3, P, C_S), cond(3, with_global=True))
    assert out.shape == (3, P, C_S)
    with pytest.raises(ValueError, match="needs a global token"):
        model(torch.randn(3, P, C_S), cond(3))
    with pytest.raises(ValueError, match="takes no"):
        h2(None)(torch.randn(3, P, C_S), cond(3, with_global=True))
    with pytest.raises(ValueError, match="audio tokens"):
        model(torch.randn(3, P + 1, C_S), cond(3, with_global=True))


def test_conditioning_changes_the_output_and_padding_does_not():
    model, x = randomise_heads(h2()), torch.randn(2, P, C_S)
    c = cond(2, with_global=True)
    base = model(x, c)
    other_task = Conditioning(torch.randn(2, 2, C_T), c.task_mask, c.text, c.text_mask, c.global_)
    assert not torch.allclose(base, model(x, other_task))
    other_g = Conditioning(c.task, c.task_mask, c.text, c.text_mask, torch.randn(2, C_G))
    assert not torch.allclose(base, model(x, other_g))
    # padded caption tokens (and the padded task slot) are never attended to
    text = c.text.clone()
    text[0, 3:] = 100.0
    task = c.task.clone()
    task[:, 1] = -50.0
    assert torch.allclose(base, model(x, Conditioning(task, c.task_mask, text, c.text_mask, c.global_)), atol=1e-5)


def test_attention_of_the_global_token_over_patches():
    model = h2()
    model(torch.randn(2, P, C_S), cond(2, with_global=True), keep_last_attention=True)
    w = model.audio_attention_of_global()
    assert w.shape == (2, P) and bool((w >= 0).all())
    assert float(w.sum(-1).max()) <= 1.0 + 1e-6  # a part of the token's attention, which sums to 1
    with pytest.raises(RuntimeError):
        h2(None).audio_attention_of_global()


def test_global_loss_is_eq_7():
    g, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    # cos = 0 -> 1 - cos = 1; mean |g - t| = (1 + 2) / 2
    assert float(global_loss(g, t)) == pytest.approx(1 + 1.5)
    assert float(global_loss(g, t, 2.0, 0.5)) == pytest.approx(2 + 0.75)
    assert float(global_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(local_loss(torch.zeros(2, 3, 4), torch.ones(2, 3, 4))) == 1.0


def test_switcher_feeds_the_ground_truth_with_probability_p_gt():
    n = 20000
    g_true, g_pred = torch.ones(n, 3), torch.zeros(n, 3)
    out = switch_global(g_true, g_pred, 0.1, torch.Generator().manual_seed(0))
    frac = float(out[:, 0].mean())
    assert abs(frac - 0.1) < 4 * math.sqrt(0.1 * 0.9 / n)  # within 4 standard errors
    assert bool(((out == 0) | (out == 1)).all()) and bool((out == out[:, :1]).all())  # whole vectors switch
    assert float(switch_global(g_true, g_pred, 0.0)[:, 0].sum()) == 0.0
    assert float(switch_global(g_true, g_pred, 1.0)[:, 0].mean()) == 1.0
    # the prediction's gradient survives where it is chosen
    g_pred = torch.zeros(4, 3, requires_grad=True)
    switch_global(torch.ones(4, 3), g_pred, 0.0).sum().backward()
    assert torch.equal(g_pred.grad, torch.ones(4, 3))
