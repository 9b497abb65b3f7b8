"""Q-Audio: the three attention masks, the branches, the losses, ITG's no-leak property."""

from __future__ import annotations

import math

import pytest
import torch

from hsm_lib.checkpoint import load_weights, read_config, save_checkpoint
from hsm_lib.models.clap import CLAPBaseline, CLAPConfig
from hsm_lib.models.qaudio import QAudio, QAudioConfig, attention_mask, contrastive_loss
from hsm_lib.train.qaudio import same_caption_matrix

CFG = dict(audio_dim=24, text_dim=20, dim=32, layers=2, heads=4, n_queries=1, embed_dim=16,
           vocab_size=11, backbone_vocab=11, max_text_tokens=12)


def model(**kw) -> QAudio:
    torch.manual_seed(0)
    return QAudio(QAudioConfig(**{**CFG, **kw})).eval()


def inputs(b=4, n=7, p=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(b, p, 24, generator=g)
    tokens = torch.randn(b, n, 20, generator=g)
    mask = torch.ones(b, n, dtype=torch.bool)
    mask[0, 5:] = False  # one padded caption
    ids = torch.randint(0, 11, (b, n), generator=g)
    emb = torch.randn(11, 20, generator=g)[ids]
    return audio, tokens, mask, ids, emb


# --- the masks themselves ------------------------------------------------------------------------


def test_itc_mask_separates_query_and_text():
    m = attention_mask("itc", 1, 3)
    expected = torch.tensor([[1, 0, 0, 0],
                             [0, 1, 1, 1],
                             [0, 1, 1, 1],
                             [0, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(m, expected)


def test_itm_mask_is_full():
    assert torch.equal(attention_mask("itm", 1, 3), torch.ones(4, 4, dtype=torch.bool))


def test_itg_mask_text_causal_query_blind_to_text():
    m = attention_mask("itg", 1, 3)
    expected = torch.tensor([[1, 0, 0, 0],
                             [1, 1, 0, 0],
                             [1, 1, 1, 0],
                             [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(m, expected)
    with pytest.raises(ValueError, match="objective"):
        attention_mask("mlm", 1, 3)


# --- the masks at work -------------------------------------------------------------------------


def test_itc_pass_equals_separate_unimodal_passes():
    q = model()
    audio, tokens, mask, *_ = inputs()
    x, m = q._text_input(tokens, mask, q.cls_token, q.text_in)
    joint_q, joint_t = q.run("itc", audio, x, m)
    assert torch.allclose(joint_q, q.audio_features(audio), atol=1e-5)
    alone = q.text_features(tokens, mask)
    valid = m  # padded rows are meaningless; compare real tokens
    assert torch.allclose(joint_t[valid], alone[valid], atol=1e-5)


def test_global_feature_shape_and_text_independence():
    q = model()
    audio, *_ = inputs()
    g = q.audio_features(audio)
    assert g.shape == (4, 1, 32)  # G: [B, 1, C_g]
    changed = audio.clone()
    changed[1] += 1
    g2 = q.audio_features(changed)
    assert torch.allclose(g[0], g2[0]) and not torch.allclose(g[1], g2[1])  # per-clip


def test_itm_query_reads_the_text():
    q = model()
    audio, tokens, mask, *_ = inputs()
    other = tokens.clone()
    other[:, 1] += 1.0
    assert not torch.allclose(q.itm_logits(audio, tokens, mask), q.itm_logits(audio, other, mask))


def test_itg_is_causal():
    """Logits at position i must not change when ids at positions >= i change."""
    q = model()
    audio, tokens, mask, ids, emb = inputs()
    mask[:] = True
    base = q.itg_logits(audio, ids, mask, emb)
    for i in range(ids.shape[1]):
        emb2 = emb.clone()
        emb2[:, i:] = torch.randn_like(emb2[:, i:])
        out = q.itg_logits(audio, ids, mask, emb2)
        assert torch.allclose(out[:, : i + 1], base[:, : i + 1], atol=1e-5), f"position <= {i} saw token >= {i}"
        if i + 1 < ids.shape[1]:
            assert not torch.allclose(out[:, i + 1:], base[:, i + 1:])


def _fit_itg(q: QAudio, leaky: bool, steps: int = 150) -> float:
    """Train ITG alone on captions of i.i.d. random tokens (nothing to predict from the
    audio or the past): an honest decoder cannot beat log(V); one that copies can."""
    torch.manual_seed(0)
    table = torch.randn(11, 20)
    opt = torch.optim.Adam(q.parameters(), lr=3e-3)
    q.train()
    for _ in range(steps):
        ids = torch.randint(0, 11, (16, 8))
        emb, mask, audio = table[ids], torch.ones(16, 8, dtype=torch.bool), torch.randn(16, 10, 24)
        if leaky:  # the bug the design avoids: position i reads token i itself (as contextual features would)
            x, m = q._text_input(emb, mask, q.dec_token, q.gen_in)  # [DEC, e_0 .. e_{N-1}], not shifted
            logits = q.lm_head(q.run("itg", audio, x, m)[1][:, 1:])
        else:
            logits = q.itg_logits(audio, ids, mask, emb)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), ids.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def test_itg_loss_cannot_be_driven_to_zero_by_copying():
    honest = _fit_itg(model(), leaky=False)
    assert honest > 0.85 * math.log(11), honest
    # the control shows the test can fail: the same training with a leak learns to copy
    leaky = _fit_itg(model(), leaky=True)
    assert leaky < 0.3 * math.log(11), leaky


# --- losses --------------------------------------------------------------------------------------


def test_losses_are_finite_and_train_every_part():
    q = model()
    q.train()
    audio, tokens, mask, ids, emb = inputs()
    out = q.losses(audio, tokens, mask, ids, emb, generator=torch.Generator().manual_seed(0))
    for name in ("itc", "itm", "itg"):
        assert torch.isfinite(getattr(out, name)) and float(getattr(out, name)) > 0, name
    assert torch.allclose(out.total, out.itc + out.itm + out.itg)  # weights 1.0 each
    out.total.backward()
    for name in ("query", "cls_token", "dec_token", "itm_head.weight", "lm_head.weight", "audio_proj.weight"):
        assert q.get_parameter(name).grad is not None and q.get_parameter(name).grad.abs().sum() > 0, name


def test_same_caption_pairs_are_positives_not_negatives():
    caps = ["a dog", "rain", "a dog", "wind"]
    same = same_caption_matrix(caps)
    assert same[0, 2] and same[2, 0] and not same[0, 1]
    sim = torch.zeros(4, 4)
    sim[0, 2] = sim[2, 0] = 10.0  # clip 0 is most like caption 2, which is its caption too
    pos = torch.eye(4, dtype=torch.bool) | same
    assert contrastive_loss(sim, pos) < contrastive_loss(sim, torch.eye(4, dtype=torch.bool))


def test_vocab_lut_maps_ids_to_classes():
    lut = torch.tensor([0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 3])
    q = QAudio(QAudioConfig(**{**CFG, "vocab_size": 4}), vocab_lut=lut)
    assert torch.equal(q.vocab_lut, lut)
    with pytest.raises(ValueError, match="vocab_lut"):
        QAudio(QAudioConfig(**{**CFG, "vocab_size": 3}), vocab_lut=lut)


def test_clap_baseline_has_the_same_interface():
    torch.manual_seed(0)
    c = CLAPBaseline(CLAPConfig(audio_dim=24, text_dim=20, dim=32, embed_dim=16))
    audio, tokens, mask, ids, emb = inputs()
    out = c.losses(audio, tokens, mask, ids, emb)
    assert float(out.itm) == 0 and float(out.itg) == 0 and torch.isfinite(out.itc)
    assert c.audio_embedding(audio).shape == (4, 16)


def test_safetensors_round_trip(tmp_path):
    lut = torch.arange(11) % 4
    q = QAudio(QAudioConfig(**{**CFG, "vocab_size": 4}), vocab_lut=lut).eval()
    save_checkpoint(tmp_path / "q", q, "qaudio", q.cfg.to_dict())
    meta = read_config(tmp_path / "q", "qaudio")
    q2 = QAudio(QAudioConfig(**meta["config"]))
    load_weights(tmp_path / "q", q2).eval()
    audio, tokens, mask, *_ = inputs()
    assert torch.equal(q.audio_features(audio), q2.audio_features(audio))
    assert torch.equal(q2.vocab_lut, lut)


def test_cached_caption_features_match_the_backbone():
    from hsm_lib.text.backbone import TextBackbone
    from hsm_lib.train.qaudio import CaptionFeatures

    bb = TextBackbone("minilm")
    caps = ["a dog barks twice", "rain falls on a tin roof while thunder rumbles far away", "a bell"]
    cached, direct = CaptionFeatures(bb, caps, cache=True), CaptionFeatures(bb, caps, cache=False)
    (fc, ec), (fd, ed) = cached[[2, 0]], direct[[2, 0]]
    assert fc.tokens.shape == fd.tokens.shape  # trimmed to the batch's longest caption
    assert torch.equal(fc.mask, fd.mask) and torch.equal(fc.ids, fd.ids) and torch.equal(ec, ed)
    assert torch.allclose(fc.tokens, fd.tokens, atol=2e-3)  # float16 storage
