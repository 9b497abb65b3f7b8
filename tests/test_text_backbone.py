"""The frozen text backbone: MiniLM offline by default, and the T5 path on a tiny random T5."""

from __future__ import annotations

import pytest
import torch

from hsm_lib.text.backbone import TextBackbone, minilm_path


@pytest.fixture(scope="module")
def minilm():
    return TextBackbone("minilm")


def test_minilm_shapes_mask_and_frozen(minilm):
    feats = minilm.encode(["a dog barks twice", "rain falls on a roof while thunder rumbles far away"])
    b, n, c = feats.tokens.shape
    assert (b, c) == (2, 384) and minilm.dim == 384
    assert feats.mask.shape == (2, n) and feats.mask[1].all() and not feats.mask[0].all()
    assert feats.pooled.shape == (2, 384)
    assert not any(p.requires_grad for p in minilm.parameters())


def test_minilm_is_a_real_sentence_encoder(minilm):
    """Paraphrases sit closer than unrelated captions (a random encoder would not do this)."""
    p = torch.nn.functional.normalize(minilm.encode(["a dog is barking", "a puppy barks loudly", "a piano melody"]).pooled, dim=-1)
    assert float(p[0] @ p[1]) > float(p[0] @ p[2]) + 0.2


def test_task_tokens_come_from_the_vocabulary_table(minilm):
    ex, rm = minilm.task_tokens("extraction"), minilm.task_tokens("removal")
    assert ex.shape[1] == rm.shape[1] == 384 and ex.shape[0] >= 1
    ids = minilm.tokenizer("removal", add_special_tokens=False)["input_ids"]
    torch.testing.assert_close(rm, minilm.encoder.get_input_embeddings().weight[ids])
    with pytest.raises(ValueError, match="task must be"):
        minilm.task_tokens("separate")
    with pytest.raises(ValueError):
        minilm.encode([])


def test_t5_encoder_path_on_a_tiny_random_t5(tmp_path, minilm):
    """A T5 checkpoint by local path: encoder only, no download (tokenizer borrowed from MiniLM)."""
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    cfg = T5Config(vocab_size=tok.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                   decoder_start_token_id=0, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    T5ForConditionalGeneration(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    t5 = TextBackbone(str(tmp_path))
    assert t5.is_t5 and t5.dim == 32
    feats = t5.encode(["a cat meows", "an engine hums while birds chirp"])
    assert feats.tokens.shape[0] == 2 and feats.tokens.shape[2] == 32
    assert t5.task_tokens("extraction").shape[1] == 32


def test_missing_local_model_is_a_clear_error(tmp_path):
    with pytest.raises(OSError):
        TextBackbone(str(tmp_path / "no-such-model"))
