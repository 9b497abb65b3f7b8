"""The non-autoregressive acoustic decoder: shapes, tokens consistent with the codec, it learns and
reads S, the LM's generate interface, and its checkpoint round trip."""

from __future__ import annotations

import pytest
import torch

from hsm_lib.checkpoint import save_checkpoint
from hsm_lib.models.acoustic_nar import AcousticNAR, AcousticNARConfig
from hsm_lib.models.stft_codec import STFTCodec, STFTCodecConfig
from hsm_lib.registry import load_model
from hsm_lib.train.acoustic_nar import fit_acoustic_nar, frame_values, mismatched_error, regression_error
from hsm_lib.train.loop import TrainConfig

TINY_CODEC = dict(channels=16, blocks=2, latent_dim=6, groups=4, codebook_size=16)   # 3 shape groups of 2 + gain


def tiny_codec() -> STFTCodec:
    torch.manual_seed(0)
    return STFTCodec(STFTCodecConfig(**TINY_CODEC)).eval()


def tiny_nar(codec: STFTCodec, rows: int = 4, frames_per_row: int = 2) -> AcousticNAR:
    torch.manual_seed(0)
    vectors = codec.code_vectors()
    cfg = AcousticNARConfig(cond_dim=6, rows=rows, cols=2, frames_per_row=frames_per_row, groups=codec.cfg.groups,
                            codebook_size=codec.cfg.codebook_size, code_dim=vectors.shape[-1], dim=16, layers=1, heads=2,
                            conv_channels=16)
    model = AcousticNAR(cfg)
    model.set_code_vectors(vectors)
    return model


def test_shapes_and_a_clear_error_for_the_wrong_s():
    model = tiny_nar(tiny_codec())
    out = model(torch.randn(3, 8, 6))
    assert out.shape == (3, model.cfg.frames, model.cfg.out_dim) == (3, 8, 7)
    with pytest.raises(ValueError, match="expects"):
        model(torch.randn(3, 10, 6))


def test_tokens_of_the_codecs_own_frame_values_are_its_tokens():
    codec = tiny_codec()
    wave = torch.randn(2, 8 * codec.cfg.hop) * 0.1
    model = tiny_nar(codec)
    assert torch.equal(model.tokens(codec.frame_values(wave)), codec.encode(wave))


def test_generate_follows_the_lm_interface_and_samples_nothing():
    codec = tiny_codec()
    model = tiny_nar(codec).eval()
    s = torch.randn(2, 8, 6)
    tokens, lengths = model.generate(s, max_frames=6)
    assert tokens.shape == (2, 6, codec.cfg.groups) and lengths.tolist() == [6, 6]
    assert int(tokens.min()) >= 0 and int(tokens.max()) < codec.cfg.codebook_size
    assert torch.equal(tokens, model.generate(s, max_frames=6)[0])        # deterministic
    codec.decode(tokens)                                                   # the codec takes them
    with pytest.raises(ValueError, match="temperature 0"):
        model.generate(s, max_frames=6, temperature=0.9, top_k=50)


def test_it_learns_a_mapping_from_s_and_reads_s(tmp_path):
    """Targets that are a fixed function of S: after training the fit with the clip's own S beats
    the fit with another clip's, and beats predicting the mean (standardised MSE 1)."""
    codec = tiny_codec()
    model = tiny_nar(codec)
    torch.manual_seed(1)
    s = torch.randn(24, 8, 6)
    rows = s.reshape(24, 4, 12)
    # each frame's value: a linear function of its row of S, the same for both frames of a row
    targets = (rows @ torch.randn(12, model.cfg.out_dim)).repeat_interleave(2, dim=1)
    hist = fit_acoustic_nar(model, s, targets, TrainConfig(steps=150, batch_size=8, lr=3e-3, warmup_steps=5,
                                                           device="cpu", weight_decay=0.0), progress=False)
    before, after = hist["loss"][0], hist["loss"][-1]
    assert after < 0.5 * before
    own, other = regression_error(model, s, targets), mismatched_error(model, s, targets)
    assert own < 0.5 and other > 2 * own
    with pytest.raises(ValueError, match="conditions"):
        fit_acoustic_nar(model, s[:3], targets, TrainConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match="per clip"):   # more frames than S spans
        fit_acoustic_nar(model, s, torch.cat([targets, targets[:, :1]], 1), TrainConfig(steps=1), progress=False)
    # S may overhang the clip (its fbank padded to whole patches): the frames past the clip are not scored
    assert regression_error(model, s, targets[:, :5]) == pytest.approx(
        torch.nn.functional.mse_loss(model(s)[:, :5], (targets[:, :5] - model.target_mean) / model.target_std).item(), rel=1e-5)


def test_frame_values_need_the_stft_codec():
    from hsm_lib.models.codec import Codec, CodecConfig

    waveform_codec = Codec(CodecConfig(channels=4, strides=[2, 4, 5, 8], latent_dim=24, groups=12, codebook_size=1024))
    with pytest.raises(ValueError, match="stft_codec"):
        frame_values(waveform_codec, torch.zeros(1, 640).numpy())


def test_checkpoint_round_trip_keeps_statistics_and_codes(tmp_path):
    codec = tiny_codec()
    model = tiny_nar(codec).eval()
    model.set_target_stats(torch.randn(5, 8, model.cfg.out_dim) * 3 + 1)
    save_checkpoint(tmp_path / "nar", model, "acoustic_nar", model.cfg.to_dict())
    loaded = load_model(tmp_path / "nar")
    s = torch.randn(2, 8, 6)
    assert torch.equal(loaded.predict(s), model.predict(s))
    assert torch.equal(loaded.generate(s, 8)[0], model.generate(s, 8)[0])


def test_the_stage_decodes_through_either_decoder():
    """The ceilings' "target S -> decoder -> codec" path takes the non-autoregressive decoder as it takes the LM."""
    from hsm_lib.stages.acoustic_lm import through_decoder

    codec = tiny_codec()
    model = tiny_nar(codec).eval()
    waves = torch.randn(3, 8 * codec.cfg.hop).numpy() * 0.1
    out = through_decoder(model, codec, torch.randn(3, 8, 6), {"temperature": 0, "top_k": 0}, torch.Generator(),
                     torch.device("cpu"), batch_size=2)(waves)
    assert out.shape == waves.shape
