"""The codec (causality, bitrate, shapes, straight-through VQ) and the acoustic LM (KV cache)."""

from __future__ import annotations

import pytest
import torch

from hsm_lib.checkpoint import load_weights, read_config, save_checkpoint
from hsm_lib.models.acoustic_lm import AcousticLM, AcousticLMConfig
from hsm_lib.models.codec import Codec, CodecConfig, GroupVQ
from hsm_lib.models.codec_losses import (DiscriminatorConfig, MultiResolutionSpectralLoss, MultiScaleMelDiscriminator,
                                         discriminator_loss, feature_matching_loss, generator_adversarial_loss)

TINY = dict(channels=4, strides=[2, 4], latent_dim=8, groups=2, codebook_size=16)


def tiny_codec() -> Codec:
    torch.manual_seed(0)
    return Codec(CodecConfig(**TINY)).eval()


def test_bitrate_arithmetic():
    paper = CodecConfig()  # the defaults are the paper profile's choice
    assert paper.hop == 320 and paper.frame_rate == 50.0
    assert paper.bits_per_frame == 120 and paper.bitrate == 6000.0
    assert CodecConfig(strides=[4, 4, 5], groups=4, latent_dim=16, codebook_size=256).bitrate == 16000 / 80 * 32
    with pytest.raises(ValueError, match="power of two"):
        CodecConfig(codebook_size=1000)
    with pytest.raises(ValueError, match="groups"):
        CodecConfig(latent_dim=100, groups=12)


def test_encode_decode_shapes():
    c = tiny_codec()
    wave = torch.randn(3, 1000) * 0.1
    tokens = c.encode(wave)
    assert tokens.shape == (3, 125, 2) and tokens.dtype == torch.long  # ceil(1000 / 8) frames, G groups
    assert int(tokens.max()) < 16
    assert c.decode(tokens).shape == (3, 1000)
    with pytest.raises(ValueError, match="tokens"):
        c.decode(torch.zeros(1, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="mono"):
        c.encode(torch.randn(2, 2, 100))


def test_codec_is_causal_at_frame_granularity():
    """Changing the input from a frame boundary on leaves every earlier latent frame, token and
    output sample unchanged; the change does reach later ones (so the check can fail)."""
    c = tiny_codec()
    hop = c.cfg.hop
    x = torch.randn(1, 64 * hop) * 0.3
    with torch.no_grad():
        ref_latent, ref_tokens = c.encoder(x[:, None]), c.encode(x)
        z = torch.randn(1, c.cfg.latent_dim, 64)
        ref_out = c.decoder(z)
    for b in (5, 20, 63):
        y = x.clone()
        y[:, b * hop:] = torch.randn(1, y.shape[1] - b * hop)
        z2 = z.clone()
        z2[..., b:] = torch.randn_like(z2[..., b:])
        with torch.no_grad():
            latent, out = c.encoder(y[:, None]), c.decoder(z2)
        assert torch.allclose(latent[..., :b], ref_latent[..., :b], atol=1e-6)
        assert not torch.allclose(latent[..., b:], ref_latent[..., b:])
        assert torch.equal(c.encode(y)[:, :b], ref_tokens[:, :b])
        assert torch.allclose(out[..., : b * hop], ref_out[..., : b * hop], atol=1e-6)
        assert not torch.allclose(out[..., b * hop:], ref_out[..., b * hop:])


def test_vq_straight_through_gradient_and_commitment():
    torch.manual_seed(0)
    vq = GroupVQ(CodecConfig(**TINY)).eval()  # eval: no EMA step between the forward and the check
    latent = torch.randn(2, 8, 5, requires_grad=True)
    q, codes, commit = vq(latent)
    assert torch.allclose(q, vq.lookup(codes))  # the forward value is the codebook entry
    (q * torch.arange(5.0)).sum().backward()
    # straight-through: d(q)/d(latent) is the identity
    assert torch.allclose(latent.grad, torch.arange(5.0).expand(2, 8, 5))
    assert commit > 0


def test_vq_ema_moves_codes_and_restarts_dead_ones():
    torch.manual_seed(0)
    vq = GroupVQ(CodecConfig(**{**TINY, "ema_decay": 0.5})).train()
    before = vq.codebook.clone()
    data = torch.randn(4, 8, 50) + 3.0  # far from the initial codes
    vq(data)
    assert bool(vq.initialised) and not torch.allclose(vq.codebook, before)
    assert float(vq.codebook.mean()) > 2.0  # initialised from the data, not left at N(0, 1)
    # a code that stops being chosen is restarted within a few dozen steps
    vq.codebook[0, 0] = 1e6
    for _ in range(40):
        vq(torch.randn(4, 8, 50) + 3.0)
    assert float(vq.codebook[0, 0].abs().max()) < 100



def test_vq_ema_statistics_are_per_code_counts_and_sums():
    """The scatter-add update equals the textbook one-hot form: count_k = #{n: code_n = k},
    sum_k = sum of the latents assigned to k, per group."""
    torch.manual_seed(0)
    vq = GroupVQ(CodecConfig(**{**TINY, "ema_decay": 0.0, "dead_code_threshold": 0.0})).train()
    data = torch.randn(3, 8, 20)
    vq(data)                                   # initialise from the data
    codes = vq.codes(data)
    vq._ema_update(data, codes)                # decay 0: the statistics are this batch's alone
    x = vq._split(data)
    onehot = torch.nn.functional.one_hot(codes.permute(2, 0, 1).reshape(vq.g, -1), vq.k).float()
    assert torch.allclose(vq.ema_count, onehot.sum(1))
    assert torch.allclose(vq.ema_sum, onehot.transpose(1, 2) @ x, atol=1e-5)

def test_vq_uses_many_codes_after_training_steps():
    torch.manual_seed(0)
    vq = GroupVQ(CodecConfig(**{**TINY, "codebook_size": 64})).train()
    for _ in range(50):
        vq(torch.randn(8, 8, 100))
    codes = vq.eval().codes(torch.randn(8, 8, 100))
    assert min(len(torch.unique(codes[..., g])) for g in range(2)) > 32  # no collapse to a handful


def test_codec_losses_run_and_are_zero_for_identical_audio():
    torch.manual_seed(0)
    x = torch.randn(2, 4000) * 0.1
    spec = MultiResolutionSpectralLoss(ffts=(256, 512), n_mels=32)
    assert float(spec(x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(spec(x * 0.5, x)) > 0.1
    disc = MultiScaleMelDiscriminator(DiscriminatorConfig(ffts=[256, 512], mels=[32, 40], channels=4))
    real, fake = disc(x), disc(x * 0.5)
    assert len(real) == 2 and len(real[0][1]) == 4
    assert feature_matching_loss(real, disc(x)).item() == pytest.approx(0.0, abs=1e-7)
    for loss in (discriminator_loss(real, fake), generator_adversarial_loss(fake), feature_matching_loss(real, fake)):
        assert torch.isfinite(loss)


def test_codec_round_trip_safetensors(tmp_path):
    c = tiny_codec()
    c.train()
    c(torch.randn(2, 800))  # move the EMA buffers away from their initial values
    c.eval()
    save_checkpoint(tmp_path / "codec", c, "codec", c.cfg.to_dict())
    c2 = load_weights(tmp_path / "codec", Codec(CodecConfig(**read_config(tmp_path / "codec", "codec")["config"]))).eval()
    x = torch.randn(1, 800)
    assert torch.equal(c.encode(x), c2.encode(x))
    assert torch.equal(c.decode(c.encode(x)), c2.decode(c2.encode(x)))


# --- acoustic LM ---------------------------------------------------------------------------------

LM = dict(cond_dim=12, dim=32, layers=2, heads=4, groups=3, codebook_size=16, max_frames=40, max_cond=10,
          cond_cols=2, frames_per_cond_row=4.0)
MODES = ("cross", "aligned", "both")
# every way S can enter, with the free head; and the codebook head with cross-attention
VARIANTS = [(m, "free") for m in MODES] + [("cross", "codebook")]


def new_lm(cond_mode: str = "cross", head: str = "free") -> AcousticLM:
    torch.manual_seed(0)
    lm = AcousticLM(AcousticLMConfig(**LM, cond_mode=cond_mode, head=head, code_dim=4))
    if head == "codebook":
        lm.set_code_vectors(torch.randn(3, 16, 4))
    return lm


def tiny_lm(cond_mode: str = "cross", head: str = "free") -> AcousticLM:
    return new_lm(cond_mode, head).eval()


@pytest.mark.parametrize("cond_mode, head", VARIANTS)
def test_kv_cache_generation_is_identical_to_recomputation(cond_mode, head):
    lm = tiny_lm(cond_mode, head)
    cond = torch.randn(3, 10, 12)
    with_cache, len_a = lm.generate(cond, 30, use_cache=True)
    without, len_b = lm.generate(cond, 30, use_cache=False)
    assert torch.equal(with_cache, without) and torch.equal(len_a, len_b)
    # sampling with the same seed is identical too
    a, _ = lm.generate(cond, 12, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(1))
    b, _ = lm.generate(cond, 12, temperature=1.0, top_k=5, use_cache=False, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_compiled_generation_gives_the_cached_tokens():
    """The cached step through torch.compile (the path CUDA graphs take on a GPU) generates the
    same tokens, with the end token and without."""
    lm = tiny_lm("cross", "free")
    cond = torch.randn(2, 10, 12)
    eager, len_e = lm.generate(cond, 16, use_cache=True)
    compiled, len_c = lm.generate(cond, 16, use_cache=True, compile_step=True)
    assert torch.equal(eager, compiled) and torch.equal(len_e, len_c)
    with pytest.raises(ValueError, match="compile_step needs use_cache"):
        lm.generate(cond, 4, use_cache=False, compile_step=True)


def test_sampling_follows_the_softmax_and_respects_top_k():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, -30.0]).log_softmax(-1).expand(40000, 5)
    gen = torch.Generator().manual_seed(0)
    ids = AcousticLM._pick(logits, 1.0, 0, gen)
    freq = torch.bincount(ids, minlength=5).double() / len(ids)
    assert torch.allclose(freq, logits[0].double().softmax(-1), atol=0.01)  # 40k draws: s.e. < 0.0025
    # temperature sharpens: at 0.5 the probabilities are softmax(2 * logits)
    freq_half = torch.bincount(AcousticLM._pick(logits, 0.5, 0, gen), minlength=5).double() / len(ids)
    assert torch.allclose(freq_half, (2 * logits[0].double()).softmax(-1), atol=0.01)
    top2 = AcousticLM._pick(logits, 1.0, 2, gen)
    assert set(top2.unique().tolist()) == {0, 1}
    assert torch.equal(AcousticLM._pick(logits[:3], 0.0, 0, None), torch.zeros(3, dtype=torch.long))
    a = AcousticLM._pick(logits[:50], 1.0, 0, torch.Generator().manual_seed(3))
    assert torch.equal(a, AcousticLM._pick(logits[:50], 1.0, 0, torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("cond_mode, head", VARIANTS)
def test_cached_logits_match_full_forward(cond_mode, head):
    lm = tiny_lm(cond_mode, head)
    cond = torch.randn(2, 10, 12)
    frames = torch.randint(0, 16, (2, 6, 3))
    c = lm.condition(cond)
    full = lm.step(lm.embed_frames(frames, 0, c), c, None)
    cache, steps = lm.new_cache(2, 8), []
    buffer = cache.buf.data_ptr()
    for t in range(6):
        steps.append(lm.step(lm.embed_frames(frames[:, t:t + 1], t, c), c, cache))
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    assert cache.buf.data_ptr() == buffer and int(cache.pos) == 6   # written in place, never reallocated
    # a prefix at once, then frame by frame, gives the same logits too
    cache = lm.new_cache(2, 8)
    first = lm.step(lm.embed_frames(frames[:, :4], 0, c), c, cache)
    rest = [lm.step(lm.embed_frames(frames[:, t:t + 1], t, c), c, cache) for t in (4, 5)]
    assert torch.allclose(torch.cat([first, *rest], dim=1), full, atol=1e-5)


def test_a_full_cache_is_an_error():
    lm = tiny_lm("cross", "free")
    c = lm.condition(torch.randn(1, 10, 12))
    cache = lm.new_cache(1, 3)
    lm.step(lm.embed_frames(torch.zeros(1, 3, 3, dtype=torch.long), 0, c), c, cache)
    with pytest.raises(ValueError, match="holds 3 positions: 3 filled, 1 more"):
        lm.step(lm.embed_frames(torch.zeros(1, 1, 3, dtype=torch.long), 3, c), c, cache)


def test_aligned_s_reaches_a_frame_only_from_one_row_before_its_own():
    """With S aligned (no cross-attention), changing S's row r (frames 4r .. 4r+3 at 4 frames per
    row) changes the predictions from row r - 1 on (each frame sees its row's neighbours), never
    earlier ones."""
    lm = tiny_lm("aligned")
    cond = torch.randn(1, 10, 12)                 # 5 rows x 2 columns
    tokens = torch.randint(0, 16, (1, 20, 3))
    other = cond.clone()
    other[:, 6:8] += 1.0                          # row 3: frames 12 .. 15
    def logits(s):
        c = lm.condition(s)
        bos = torch.full((1, 1, 3), lm.cfg.bos)
        return lm.step(lm.embed_frames(torch.cat([bos, tokens], 1), 0, c), c, None)
    a, b = logits(cond), logits(other)
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert not torch.allclose(a[:, 8], b[:, 8], atol=1e-3)


def test_lm_config_refuses_an_unknown_cond_mode_and_partial_rows():
    with pytest.raises(ValueError, match="cond_mode"):
        AcousticLMConfig(**{**LM, "cond_mode": "prefix"})
    with pytest.raises(ValueError, match="cond_cols"):
        AcousticLMConfig(**{**LM, "cond_cols": 3})


@pytest.mark.parametrize("cond_mode, head", VARIANTS)
def test_lm_learns_a_sequence_and_stops_at_the_end_token(cond_mode, head):
    lm = new_lm(cond_mode, head)
    cond = torch.randn(2, 10, 12)
    tokens = torch.randint(0, 16, (2, 7, 3))
    lengths = torch.tensor([7, 4])
    opt = torch.optim.Adam(lm.parameters(), lr=3e-3)
    for _ in range(150):
        loss = lm.loss(cond, tokens, lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.05
    lm.eval()
    out, n = lm.generate(cond, 20)
    assert n.tolist() == [7, 4]
    assert torch.equal(out[0, :7], tokens[0]) and torch.equal(out[1, :4], tokens[1, :4])
    assert torch.all(out[1, 4:] == 0)
    # a caller that knows the length gets every frame, the end token notwithstanding
    full, n_full = lm.generate(cond, 20, stop_at_end=False)
    assert n_full.tolist() == [20, 20] and full.shape[1] == 20
    assert torch.equal(full[0, :7], tokens[0]) and torch.equal(full[1, :4], tokens[1, :4])


def test_codebook_head_scores_each_code_by_its_distance_to_the_prediction():
    """Code k's logit is -beta |q - e_k|^2 up to a constant per group: the softmax is a Gaussian
    around the predicted point q, evaluated at the code vectors."""
    lm = tiny_lm("cross", "codebook")
    h = torch.randn(5, 32)
    logits = lm.logits(h)[..., :16]                                        # [5, G, K]
    q = torch.stack([head(h) for head in lm.heads], 1)                    # [5, G, d]
    e = lm.code_vectors[:, :16]                                            # [G, K, d]
    dist = ((q[:, :, None] - e[None]) ** 2).sum(-1)
    want = -lm.beta()[:, None] * dist
    assert torch.allclose(logits.log_softmax(-1), want.log_softmax(-1), atol=1e-4)
    # normalised per group: centred, unit RMS; the BOS row stays zero
    assert torch.allclose(e.mean(1), torch.zeros(3, 4), atol=1e-5)
    assert torch.allclose(e.pow(2).sum((1, 2)) / (16 * 4), torch.ones(3), atol=1e-4)
    assert torch.all(lm.code_vectors[:, 16] == 0)


def test_codebook_head_keeps_a_narrow_group_narrow_and_checks_shapes():
    lm = new_lm("cross", "codebook")
    v = torch.randn(3, 16, 4)
    v[2, :, 1:] = 0                                  # a 1-d group (the gain), zero-padded
    lm.set_code_vectors(v)
    assert torch.all(lm.code_vectors[2, :, 1:] == 0)
    assert torch.allclose(lm.code_vectors[2, :16, 0].pow(2).mean(), torch.tensor(1.0), atol=1e-4)
    with pytest.raises(ValueError, match="code vectors"):
        lm.set_code_vectors(torch.randn(3, 16, 5))
    with pytest.raises(ValueError, match="codebook head"):
        tiny_lm().set_code_vectors(v)


def test_lm_padding_frames_do_not_change_the_loss():
    lm = tiny_lm()
    cond = torch.randn(1, 10, 12)
    tokens = torch.randint(0, 16, (1, 5, 3))
    a = lm.loss(cond, tokens, torch.tensor([3]))
    b = lm.loss(cond, torch.cat([tokens[:, :3], torch.randint(0, 16, (1, 2, 3))], dim=1), torch.tensor([3]))
    assert torch.allclose(a, b)


def test_lm_round_trip_safetensors(tmp_path):
    lm = tiny_lm()
    save_checkpoint(tmp_path / "lm", lm, "acoustic_lm", lm.cfg.to_dict())
    lm2 = load_weights(tmp_path / "lm", AcousticLM(AcousticLMConfig(**read_config(tmp_path / "lm", "acoustic_lm")["config"]))).eval()
    cond = torch.randn(1, 10, 12)
    assert torch.equal(lm.generate(cond, 8)[0], lm2.generate(cond, 8)[0])


def test_codec_training_runs_every_loss():
    import numpy as np

    from hsm_lib.train.codec import CodecTrainConfig, fit_codec

    torch.manual_seed(0)
    codec = Codec(CodecConfig(**TINY))
    disc = MultiScaleMelDiscriminator(DiscriminatorConfig(ffts=[256, 512], mels=[32, 40], channels=4))
    waves = (np.random.default_rng(0).standard_normal((6, 4000)) * 3000).astype(np.int16)
    cfg = CodecTrainConfig(steps=4, batch_size=2, segment_seconds=0.1, adversarial_from=2, warmup_steps=1, device="cpu")
    hist = fit_codec(codec, disc, waves, cfg, progress=False)
    assert hist["step"] == [1, 2, 3, 4]
    assert hist["disc"][:2] == [0.0, 0.0] and all(v > 0 for v in hist["disc"][2:])  # the GAN joins at step 3
    assert all(np.isfinite(hist[k]).all() for k in ("spectral", "commit", "adv", "fm"))


def test_quantizer_warmup_trains_an_autoencoder_first():
    import numpy as np

    from hsm_lib.train.codec import CodecTrainConfig, fit_codec

    torch.manual_seed(0)
    codec = Codec(CodecConfig(**TINY))
    before = codec.quantizer.codebook.clone()
    wave = torch.randn(2, 400) * 0.1
    out, codes, commit = codec.train()(wave, quantize=False)
    assert out.shape == (2, 400) and codes.shape == (2, 50, 2) and float(commit) == 0.0
    assert not bool(codec.quantizer.initialised) and torch.equal(codec.quantizer.codebook, before)
    # the bypass reconstructs from the unquantized latent: it differs from the quantized path
    assert not torch.allclose(out, codec(wave)[0])

    disc = MultiScaleMelDiscriminator(DiscriminatorConfig(ffts=[256, 512], mels=[32, 40], channels=4))
    waves = (np.random.default_rng(0).standard_normal((6, 4000)) * 3000).astype(np.int16)
    torch.manual_seed(0)
    codec = Codec(CodecConfig(**TINY))
    cfg = CodecTrainConfig(steps=3, batch_size=2, segment_seconds=0.1, quantizer_warmup=2, warmup_steps=1, device="cpu")
    hist = fit_codec(codec, disc, waves, cfg, progress=False)
    assert hist["commit"][:2] == [0.0, 0.0] and hist["commit"][2] > 0  # the quantizer joins at step 3
    assert bool(codec.quantizer.initialised)


def test_lm_training_on_codec_tokens_lowers_the_loss():
    import numpy as np

    from hsm_lib.train.acoustic_lm import LMTrainConfig, encode_tokens, fit_acoustic_lm

    codec = tiny_codec()
    waves = (np.random.default_rng(0).standard_normal((4, 160)) * 3000).astype(np.int16)
    tokens = encode_tokens(codec, waves, batch_size=3)
    assert tokens.shape == (4, 20, 2) and tokens.dtype == torch.int16
    torch.manual_seed(0)
    lm = AcousticLM(AcousticLMConfig(**{**LM, "groups": 2}))
    cond = torch.randn(4, 10, 12)
    before = float(lm.loss(cond, tokens.long()))
    hist = fit_acoustic_lm(lm, cond, tokens, LMTrainConfig(steps=40, batch_size=4, lr=3e-3, warmup_steps=2, device="cpu"),
                           progress=False)
    assert hist["loss"][-1] < 0.5 * before
    with pytest.raises(ValueError, match="conditions"):
        fit_acoustic_lm(lm, cond[:3], tokens, LMTrainConfig(steps=1), progress=False)


def test_teacher_forced_ce_matches_the_training_loss_and_ignores_batching():
    from hsm_lib.train.acoustic_lm import teacher_forced_ce

    torch.manual_seed(0)
    lm = AcousticLM(AcousticLMConfig(**LM)).train()
    cond, tokens = torch.randn(5, 10, 12), torch.randint(0, LM["codebook_size"], (5, 7, LM["groups"]))
    with torch.no_grad():
        whole = float(lm.eval().loss(cond, tokens))
    lm.train()
    assert teacher_forced_ce(lm, cond, tokens, batch_size=5) == pytest.approx(whole, rel=1e-6)
    assert teacher_forced_ce(lm, cond, tokens, batch_size=2) == pytest.approx(whole, rel=1e-5)
    assert lm.training  # the mode is restored
    with pytest.raises(ValueError, match="conditions"):
        teacher_forced_ce(lm, cond[:4], tokens)


def test_unigram_entropy():
    import math

    from hsm_lib.train.acoustic_lm import unigram_entropy

    uniform = torch.arange(24).reshape(1, 12, 2) // 2 % 4   # both groups cycle through codes 0..3
    assert unigram_entropy(uniform, 16) == pytest.approx(math.log(4))
    assert unigram_entropy(torch.zeros(2, 5, 3, dtype=torch.int16), 16) == 0.0
    mixed = torch.stack([torch.zeros(8, dtype=torch.long), torch.arange(8)], dim=-1)[None]  # groups: 0 and log 8
    assert unigram_entropy(mixed, 8) == pytest.approx(math.log(8) / 2)


def test_mismatched_conditions_reveal_an_lm_that_reads_s():
    """An LM trained where the condition decides the tokens scores far worse under another clip's
    condition; an LM given identical conditions scores the same either way."""
    from hsm_lib.train.acoustic_lm import RolledConditions, mismatched_ce, teacher_forced_ce

    cond = torch.arange(4.0)[:, None, None].expand(4, 10, 12).clone()
    assert torch.equal(RolledConditions(cond)[torch.tensor([0, 3])], cond[[1, 0]])
    with pytest.raises(ValueError, match="2 clips"):
        RolledConditions(cond[:1])
    torch.manual_seed(0)
    lm = AcousticLM(AcousticLMConfig(**LM))
    tokens = torch.stack([torch.full((7, 3), 3 * i + 1) for i in range(4)])   # clip i: every code 3i + 1
    opt = torch.optim.Adam(lm.parameters(), lr=3e-3)
    for _ in range(120):
        loss = lm.loss(cond, tokens)
        opt.zero_grad()
        loss.backward()
        opt.step()
    matched, other = teacher_forced_ce(lm, cond, tokens), mismatched_ce(lm, cond, tokens)
    assert matched < 0.1 and other > matched + 1.0
    same = cond[:1].expand(4, 10, 12)
    assert mismatched_ce(lm, same, tokens) == pytest.approx(teacher_forced_ce(lm, same, tokens), rel=1e-6)


def test_input_dropout_hides_whole_previous_frames_and_is_checked():
    lm = tiny_lm()
    cond = torch.randn(2, 10, 12)
    tokens = torch.randint(0, 16, (2, 6, 3))
    plain = lm.loss(cond, tokens)
    assert torch.equal(plain, lm.loss(cond, tokens, input_dropout=0.0))
    hidden = lm.loss(cond, tokens, input_dropout=0.5, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(plain, hidden)
    # the same draw gives the same loss: a resumed run reproduces it
    assert torch.equal(hidden, lm.loss(cond, tokens, input_dropout=0.5, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="input_dropout"):
        lm.loss(cond, tokens, input_dropout=1.0)
