"""The STFT-domain gain-shape codec: analysis/synthesis, gain coding, causality, bitrate, loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.models.codec_losses import CompressedSpectralLoss
from hsm_lib.models.stft_codec import STFTCodec, STFTCodecConfig
from hsm_lib.registry import load_model

TINY = dict(channels=16, blocks=2, latent_dim=6, groups=4, codebook_size=16)


def tiny_codec() -> STFTCodec:
    torch.manual_seed(0)
    return STFTCodec(STFTCodecConfig(**TINY)).eval()


def test_bitrate_and_frame_arithmetic():
    cfg = STFTCodecConfig()
    assert cfg.hop == 320 and cfg.frame_rate == 50.0 and cfg.bins == 161
    assert cfg.bits_per_frame == 120 and cfg.bitrate == 6000.0          # 11 shape groups + 1 gain, 10 bits each
    with pytest.raises(ValueError, match="shape groups"):
        STFTCodecConfig(latent_dim=90, groups=12)
    with pytest.raises(ValueError, match="power of two"):
        STFTCodecConfig(codebook_size=1000)
    with pytest.raises(ValueError, match="gain group"):
        STFTCodecConfig(groups=1, latent_dim=4)


def test_stft_and_overlap_add_reconstruct_the_wave():
    """Analysis then synthesis with no network in between is the identity, except the last
    window's fade (the interior envelope is exact)."""
    c = tiny_codec()
    x = torch.randn(2, 20 * c.cfg.hop) * 0.2
    y = c.waveform(c.decompressed(c.compressed(c.spectrum(x))))
    assert y.shape == x.shape
    inner = slice(0, x.shape[1] - c.cfg.window)
    assert torch.allclose(y[:, inner], x[:, inner], atol=1e-5)
    assert not torch.allclose(y, x, atol=1e-5)  # the faded tail: the check can fail


def test_frames_and_unframes_are_inverse():
    c = tiny_codec()
    spec = c.spectrum(torch.randn(1, 8 * c.cfg.hop))
    assert spec.shape == (1, c.cfg.bins, 8 * c.cfg.frames_per_token)
    frames = c._frames(spec)
    assert frames.shape == (1, 2 * c.cfg.bins * c.cfg.frames_per_token, 8)
    assert torch.equal(c._unframes(frames), spec)


def test_gain_is_coded_to_a_fraction_of_a_db_and_clamped():
    c = tiny_codec()
    step = (c.cfg.gain_max_db - c.cfg.gain_min_db) / (c.cfg.codebook_size - 1)
    db = torch.linspace(c.cfg.gain_min_db, c.cfg.gain_max_db, 200)[None]
    assert (c.gain_values(c.gain_codes(db)) - db).abs().max() <= step / 2 + 1e-5
    codes = c.gain_codes(torch.tensor([[-500.0, 500.0]]))
    assert codes.tolist() == [[0, c.cfg.codebook_size - 1]]


def test_encode_decode_shapes_and_errors():
    c = tiny_codec()
    tokens = c.encode(torch.randn(3, 1000) * 0.1)
    assert tokens.shape == (3, 4, 4) and tokens.dtype == torch.long        # ceil(1000 / 320) frames
    assert 0 <= int(tokens.min()) and int(tokens.max()) < 16
    assert c.decode(tokens).shape == (3, 4 * 320)
    with pytest.raises(ValueError, match="tokens"):
        c.decode(torch.zeros(1, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="token ids"):
        c.decode(torch.full((1, 5, 4), 16))
    with pytest.raises(ValueError, match="mono"):
        c.encode(torch.randn(2, 2, 100))


def test_the_decoded_level_follows_the_gain_token():
    """Dynamics are coded apart from shape: raising every gain token by 3 levels (12 dB of
    compressed RMS) raises the output by 12 / 0.3 = 40 dB, even from an untrained network (the
    decoder also sees the gain, so its shape may shift a little with it)."""
    c = tiny_codec()
    tokens = c.encode(torch.randn(1, 12 * 320) * 0.05)
    step = (c.cfg.gain_max_db - c.cfg.gain_min_db) / (c.cfg.codebook_size - 1)
    assert step == pytest.approx(4.0)
    louder = tokens.clone()
    louder[..., -1] += 3                                                   # +12 dB of compressed RMS
    ratio = c.decode(louder).pow(2).mean().sqrt() / c.decode(tokens).pow(2).mean().sqrt()
    assert float(20 * torch.log10(ratio)) == pytest.approx(12 / c.cfg.compress, abs=3.0)


def test_silence_encodes_to_the_lowest_gain_and_decodes_near_silent():
    c = tiny_codec()
    tokens = c.encode(torch.zeros(1, 640))
    assert tokens[..., -1].tolist() == [[0, 0]]
    assert float(c.decode(tokens).abs().max()) < 1e-4


def test_codec_is_causal():
    """Changing the input from a frame boundary on leaves every earlier token unchanged; the
    decoder's output is final one frame after the frame that holds it (window overlap)."""
    c = tiny_codec()
    hop = c.cfg.hop
    x = torch.randn(1, 30 * hop) * 0.3
    ref_tokens = c.encode(x)
    ref_out = c.decode(ref_tokens)
    for b in (3, 10, 25):
        y = x.clone()
        y[:, b * hop:] = torch.randn(1, y.shape[1] - b * hop)
        tokens = c.encode(y)
        assert torch.equal(tokens[:, :b], ref_tokens[:, :b])
        assert not torch.equal(tokens[:, b:], ref_tokens[:, b:])
        changed = ref_tokens.clone()
        changed[:, b:] = tokens[:, b:]
        out = c.decode(changed)
        final = b * hop - (c.cfg.window - c.cfg.stft_hop)                # the overlap reaches 15 ms back
        assert torch.allclose(out[:, :final], ref_out[:, :final], atol=1e-6)
        assert not torch.allclose(out[:, b * hop:], ref_out[:, b * hop:])


def test_training_pass_quantized_and_bypassed():
    c = tiny_codec().train()
    wave = torch.randn(2, 960) * 0.1
    out, codes, commit = c(wave, quantize=False)
    assert out.shape == (2, 960) and codes.shape == (2, 3, 4) and float(commit) == 0.0
    out_q, _, commit_q = c(wave)
    assert float(commit_q.detach()) > 0 and not torch.allclose(out.detach(), out_q.detach())
    out_q.pow(2).mean().backward()
    assert next(c.encoder.parameters()).grad is not None                     # straight-through to the encoder


def test_checkpoint_reloads_by_kind(tmp_path):
    c = tiny_codec()
    c.train()(torch.randn(2, 960))          # move the EMA codebooks
    c.eval()
    save_checkpoint(tmp_path / "codec", c, "stft_codec", c.cfg.to_dict())
    c2 = load_model(tmp_path / "codec")
    assert isinstance(c2, STFTCodec)
    x = torch.randn(1, 960)
    assert torch.equal(c.encode(x), c2.encode(x)) and torch.equal(c.decode(c.encode(x)), c2.decode(c2.encode(x)))


def test_compressed_loss_is_zero_on_identity_and_weighs_quiet_frames():
    torch.manual_seed(0)
    normalised = CompressedSpectralLoss(mel_ffts=(256, 512), n_mels=32)
    y = torch.randn(2, 4000) * 0.1
    y[:, 2000:] *= 1e-3                                                 # a quiet second half
    assert float(normalised(y, y)) == pytest.approx(0.0, abs=1e-6)
    quiet_error = y.clone()
    quiet_error[:, 2000:] += torch.randn(2, 2000) * 1e-5               # 10 % error only where it is quiet
    loud_error = y.clone()
    loud_error[:, :2000] += torch.randn(2, 2000) * 1e-2                # the same 10 % where it is loud
    spectral = dict(mel_ffts=(256,), n_mels=32, mel_weight=0.0)
    norm, plain = CompressedSpectralLoss(**spectral), CompressedSpectralLoss(**spectral, frame_normalised=False)
    # a plain MSE barely sees the quiet half's error; normalised by each frame's RMS it counts
    # about as much as the same relative error in a loud frame
    assert float(plain(quiet_error, y)) < 0.05 * float(plain(loud_error, y))
    assert float(norm(quiet_error, y)) == pytest.approx(float(norm(loud_error, y)), rel=0.5)


def test_stft_codec_trains_in_the_shared_loop():
    from hsm_lib.models.codec_losses import DiscriminatorConfig, MultiScaleMelDiscriminator
    from hsm_lib.train.codec import CodecTrainConfig, fit_codec

    torch.manual_seed(0)
    codec = STFTCodec(STFTCodecConfig(**TINY))
    disc = MultiScaleMelDiscriminator(DiscriminatorConfig(ffts=[256, 512], mels=[32, 40], channels=4))
    waves = (np.random.default_rng(0).standard_normal((6, 4000)) * 3000).astype(np.int16)
    cfg = CodecTrainConfig(steps=12, batch_size=2, segment_seconds=0.1, adversarial_from=10**6, quantizer_warmup=4,
                           warmup_steps=1, lr=3e-3, loss="compressed", device="cpu")
    hist = fit_codec(codec, disc, waves, cfg, progress=False)
    assert hist["commit"][:4] == [0.0] * 4 and hist["commit"][4] > 0
    assert hist["disc"] == [0.0] * 12                                   # no GAN when it never joins
    assert np.mean(hist["spectral"][:2]) > np.mean(hist["spectral"][2:4])  # it learns before quantizing


def test_code_vectors_are_the_shape_codebooks_and_the_gain_levels():
    c = tiny_codec()
    v = c.code_vectors()
    assert v.shape == (4, 16, 2)                                          # 3 shape groups of 2 dims + the gain
    assert torch.equal(v[:3], c.quantizer.codebook)
    levels = c.gain_values(torch.arange(16))
    assert torch.allclose(v[3, :, 0], levels) and torch.all(v[3, :, 1] == 0)
    # a token's gain level is what decoding uses: the level of code k is the gain of gain code k
    assert float(levels[0]) == c.cfg.gain_min_db and float(levels[-1]) == pytest.approx(c.cfg.gain_max_db)


def vocoder_codec() -> STFTCodec:
    torch.manual_seed(0)
    return STFTCodec(STFTCodecConfig(**TINY, head="mag_if", encoder_input="magnitude")).eval()


def test_bin_advance_is_a_centre_sinusoids_phase_and_stays_exact():
    c = vocoder_codec()
    adv = c._bin_advance(4001, torch.device("cpu"))
    f, k = torch.tensor([3, 10, 160]), torch.tensor([1, 7, 4000])
    want = torch.remainder(2 * torch.pi * f[:, None].double() * k[None].double() * c.cfg.stft_hop / c.cfg.window, 2 * torch.pi)
    got = adv[f][:, k].double()
    assert torch.all((got >= 0) & (got < 2 * torch.pi))
    assert torch.allclose(torch.polar(torch.ones_like(got), got), torch.polar(torch.ones_like(want), want), atol=1e-5)


def test_phase_steps_of_a_steady_partial_are_its_offset_from_the_bin_centre():
    c = vocoder_codec()
    sr, hop, n = c.cfg.sample_rate, c.cfg.stft_hop, c.cfg.window
    t = torch.arange(8000) / sr
    centre = 10 * sr / n                                   # bin 10's centre frequency (500 Hz)
    for offset_hz in (0.0, 12.5):
        spec = c.spectrum(torch.sin(2 * torch.pi * (centre + offset_hz) * t)[None])
        steps = c.phase_steps(spec)[0, 10, 10:]            # past the first window
        want = torch.polar(torch.ones(1), torch.tensor([2 * torch.pi * offset_hz * hop / sr]))
        assert torch.allclose(steps, want.expand_as(steps), atol=1e-3)


def test_vocoder_head_decodes_repeatably_and_causally_and_is_sure_only_where_told():
    c = vocoder_codec()
    hop = c.cfg.hop
    x = torch.randn(1, 30 * hop) * 0.3
    tokens = c.encode(x)
    out = c.decode(tokens)
    assert torch.equal(out, c.decode(tokens))
    short = c.decode(tokens[:, :12])
    final = 12 * hop - (c.cfg.window - c.cfg.stft_hop)
    assert torch.allclose(short[:, :final], out[:, :final], atol=1e-6)
    # a sure step (|v| = 1) leaves no noise: the same output whatever the noise table holds
    dec = torch.zeros(1, c.spec_ch * 3 // 2, 5)
    dec[:, c.spec_ch // 2: c.spec_ch] = 1.0              # v = 1 + 0j everywhere
    a = c._vocoder(dec)[0]
    c.noise_table.normal_()
    assert torch.allclose(a, c._vocoder(dec)[0])
    assert not torch.equal(c._vocoder(torch.zeros_like(dec))[0], c._vocoder(torch.zeros_like(dec))[0] * 0)   # v = 0: noise


def test_vocoder_head_loss_trains_magnitude_and_steps():
    c = vocoder_codec().train()
    wave = torch.randn(2, 960) * 0.1
    p = c.forward_parts(wave, quantize=False)
    assert float(p.head_loss) > 0
    p.head_loss.backward()
    assert c.decoder[-1].weight.grad.abs().sum() > 0


def test_head_mel_loss_is_zero_on_the_target_and_sees_a_missing_quiet_band():
    c = vocoder_codec()
    t_mag = torch.rand(2, c.cfg.bins, 12) + 0.5
    assert float(c.mel_loss(t_mag, t_mag)) == 0.0
    quiet = t_mag.clone()
    quiet[:, 120:] *= 10 ** (-30 / 20 * c.cfg.compress)          # the top bins 30 dB down, then lost
    lost = quiet.clone()
    lost[:, 120:] = 1e-6
    # a band 30 dB down is above the 50 dB floor, so losing it costs about its share of the bands x ln(100)
    lost.requires_grad_(True)
    loss = c.mel_loss(lost, quiet)
    assert 0.1 < float(loss.detach()) < 1.0
    loss.backward()
    assert lost.grad[:, 120:].abs().sum() > 0


def test_forward_parts_adds_the_head_mel_term_only_when_weighted():
    c = vocoder_codec().train()
    wave = torch.randn(2, 960) * 0.1
    torch.manual_seed(1)
    plain = c.forward_parts(wave, quantize=False).head_loss.detach()
    torch.manual_seed(1)
    weighted = c.forward_parts(wave, quantize=False, head_mel_weight=1.0).head_loss.detach()
    assert float(weighted) > float(plain)
