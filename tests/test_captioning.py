"""The Table VI analog's parts: the caption decoder (a linear map and GPT-2, from scratch or from a
local pretrained folder), its training, and the captioning metrics (METEOR 1.5, CIDEr-D)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hsm_lib.models.caption_decoder import CaptionDecoderConfig, WordTokenizer, build_decoder, check_pretrained_folder
from paper_fixture import write_gpt2

CAPTIONS = [["a dog barks twice"], ["rain falls while a siren wails"], ["a woman says \"hello\", then a door opens"]]


def test_word_tokenizer_round_trip_unknown_words_and_json():
    tok = WordTokenizer.from_captions([c for caps in CAPTIONS for c in caps])
    ids = tok.encode("A dog barks, then rain falls")
    assert tok.decode(ids) == "a dog barks, then rain falls"
    assert tok.encode("a zebra") == [tok.index["a"], tok.unk_id] and tok.eos_id not in ids
    assert WordTokenizer.from_json(tok.to_json()).words == tok.words
    assert tok.words[2] == "a"       # most frequent first


def test_decoder_learns_to_tell_features_apart_and_stops_at_the_end_token():
    from hsm_lib.train.caption_decoder import CaptionPairs, CaptionTrainConfig, fit_caption_decoder, pairs_loss

    features = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    cfg = CaptionDecoderConfig(feature_dim=6, prefix_len=2, dim=32, layers=1, heads=2, max_tokens=16, dropout=0.0)
    torch.manual_seed(0)
    decoder = build_decoder(cfg, [c for caps in CAPTIONS for c in caps], features)
    pairs = CaptionPairs.of(features, CAPTIONS)
    before = pairs_loss(decoder, pairs)
    history = fit_caption_decoder(decoder, pairs, CaptionTrainConfig(steps=150, batch_size=3, lr=3e-3, warmup_steps=5,
                                                                    val_every=50), val=pairs, progress=False)
    assert history["val_step"] == [50.0, 100.0, 150.0] and history["val_loss"][-1] < 0.05 < before
    assert decoder.generate(features) == [c[0] for c in CAPTIONS]
    assert all(len(c.split()) <= 3 for c in decoder.generate(features, max_tokens=3))


def test_the_cached_greedy_decoding_gives_the_captions_of_the_full_recompute():
    features = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    cfg = CaptionDecoderConfig(feature_dim=6, prefix_len=3, dim=32, layers=2, heads=2, max_tokens=12, dropout=0.0)
    torch.manual_seed(1)
    decoder = build_decoder(cfg, [c for caps in CAPTIONS for c in caps], features)   # untrained: long, varied captions
    cached, full = decoder.generate(features), decoder.generate(features, use_cache=False)
    assert cached == full and max(len(c.split()) for c in full) > 3


def test_loss_ignores_padding():
    features = torch.randn(2, 4)
    cfg = CaptionDecoderConfig(feature_dim=4, prefix_len=1, dim=16, layers=1, heads=2, max_tokens=16, dropout=0.0)
    decoder = build_decoder(cfg, ["a b", "c d e f g h"], features).eval()
    # the short caption's loss alone equals its token-weighted share of a batch padded to the long one
    short, long_ = decoder.loss(features[:1], ["a b"]), decoder.loss(features[1:], ["c d e f g h"])
    both = decoder.loss(features, ["a b", "c d e f g h"])
    torch.testing.assert_close(both, (3 * short + 7 * long_) / 10)


def test_pretrained_gpt2_loads_from_a_local_folder_and_a_missing_one_says_how_to_get_it(tmp_path):
    folder = write_gpt2(tmp_path / "gpt2")
    cfg = CaptionDecoderConfig(feature_dim=5, prefix_len=3, max_tokens=8, pretrained=str(folder))
    decoder = build_decoder(cfg, ["ignored: GPT-2 has its own tokenizer"], torch.randn(4, 5))
    from safetensors.torch import load_file

    saved = load_file(folder / "model.safetensors")
    assert decoder.gpt.config.n_embd == 32 and decoder.to_prefix.out_features == 3 * 32
    torch.testing.assert_close(decoder.gpt.transformer.h[0].attn.c_attn.weight, saved["transformer.h.0.attn.c_attn.weight"])
    assert decoder.tokenizer.decode(decoder.tokenizer.encode("a dog barks")) == "a dog barks"
    assert float(decoder.loss(torch.randn(2, 5), ["a dog", "rain"]).detach()) > 0
    assert len(decoder.generate(torch.randn(2, 5), max_tokens=4)) == 2
    with pytest.raises(FileNotFoundError, match="huggingface-cli download gpt2"):
        check_pretrained_folder(tmp_path / "nothing")


def test_paper_profile_reads_a_pretrained_gpt2_from_a_local_folder():
    from hsm_lib.config import profile_section

    paper = profile_section("captioning", "paper")
    assert paper["decoder"]["pretrained"] and not Path(paper["decoder"]["pretrained"]).is_absolute()
    assert {"qaudio", "clap"} <= set(paper["features"])
    for profile in ("smoke", "cpu"):   # offline: GPT-2's shape from scratch
        assert profile_section("captioning", profile)["decoder"]["pretrained"] is None


# --- metrics -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def meteor():
    from hsm_lib.eval.captioning import MeteorScorer

    with MeteorScorer() as scorer:
        yield scorer


REFS = [["a dog barks twice", "a dog barking twice"], ["rain falls while a siren wails", "a siren wails in the rain"],
        ["a woman speaks then a door opens", "a woman talks before a door opens"],
        ["a drum beat plays", "drums play repeatedly"], ["a bell rings three times", "a bell ringing"]]


def test_meteor_aggregate_computed_here_equals_the_scorers_own(meteor):
    from hsm_lib.eval.captioning import meteor_from_statistics, ptb_tokenize, resample_indices

    cands = ptb_tokenize(["a dog barks", "a siren wails", "a door opens", "a drum beat plays", "rain falls"])
    refs = [ptb_tokenize(r) for r in REFS]
    lines = [meteor.statistics(c, r) for c, r in zip(cands, refs)]
    numbers = np.array([[float(x) for x in line.split()] for line in lines])
    corpus, per_clip = meteor.aggregate(lines)
    assert meteor_from_statistics(numbers) == pytest.approx(corpus, abs=1e-12)
    assert meteor_from_statistics(numbers[:, None]) == pytest.approx(per_clip, abs=1e-12)
    for row in resample_indices(len(lines), 6, seed=1):
        assert meteor_from_statistics(numbers[row]) == pytest.approx(meteor.aggregate([lines[i] for i in row])[0], abs=1e-12)


def test_scores_rank_the_right_caption_above_a_wrong_one(meteor):
    from hsm_lib.eval.captioning import compare, score_captions, score_systems

    right = [r[0] for r in REFS[1:] + REFS[:1]]          # each clip's own first reference, shifted: wrong clip
    own = score_captions([r[1] for r in REFS], REFS, meteor, n_boot=200)
    wrong = score_captions(right, REFS, meteor, n_boot=200)
    assert own.meteor > wrong.meteor and own.cider > wrong.cider and own.meteor.lo <= own.meteor <= own.meteor.hi
    c = compare(own, wrong)
    assert c["METEOR"].diff > 0 and c["CIDEr-D"].diff > 0
    with pytest.raises(ValueError, match="candidates"):
        score_captions(["a"], REFS, meteor)
    # several systems with one tokenizer call score as each alone
    both = score_systems({"own": [r[1] for r in REFS], "wrong": right}, REFS, meteor, n_boot=200)
    for name, alone in (("own", own), ("wrong", wrong)):
        assert float(both[name].meteor) == float(alone.meteor) and float(both[name].cider) == float(alone.cider)
        np.testing.assert_array_equal(both[name].meteor_resampled, alone.meteor_resampled)


def test_spice_is_reported_missing_unless_corenlp_is_there(tmp_path, monkeypatch):
    from hsm_lib.eval import captioning

    monkeypatch.setattr(captioning, "_package_dir", lambda: tmp_path)
    assert "CoreNLP" in captioning.spice_unavailable()
    (tmp_path / "spice" / "lib").mkdir(parents=True)
    for jar in ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar"):
        (tmp_path / "spice" / "lib" / jar).write_bytes(b"")
    assert captioning.spice_unavailable() is None


def test_table6_is_written_with_the_papers_numbers_and_intervals(tmp_path, monkeypatch, meteor):
    from hsm_lib.eval.captioning import score_captions
    from hsm_lib.stages.captioning import PAPER_TABLE6, write_table6

    monkeypatch.setenv("HSM_REPORTS_DIR", str(tmp_path))
    scores = {"ceiling": score_captions([r[0] for r in REFS], [r[1:] for r in REFS], meteor, n_boot=100)}
    for name, cands in (("none", ["a dog barks"] * 5), ("clap", [r[1] for r in REFS]), ("qaudio", [r[1] for r in REFS])):
        scores[name] = score_captions(cands, [r[1:] for r in REFS], meteor, n_boot=100)
    P = {"decoder": {"prefix_len": 4, "dim": 32, "layers": 1, "heads": 2, "pretrained": None}, "train": {"steps": 3}}
    write_table6(scores, ["none", "clap", "qaudio"], 5, P)
    table = json.loads((tmp_path / "table6_captioning.json").read_text())
    assert [r["feature"].split(" ")[0] for r in table["rows"]] == ["another", "Q-Audio", "CLAP-style", "no"]   # ceiling, ours, baseline, floor
    assert all(len(r["METEOR CI95"]) == 2 for r in table["rows"])
    assert table["paper_table6"]["Q-Audio"] == dict(zip(("METEOR", "SPICE", "SPIDEr"), PAPER_TABLE6["Q-Audio"]))
    assert table["comparisons"]["Q-Audio G minus CLAP-style embedding"]["METEOR"]["verdict"] == "not distinguishable"
    assert "0.118" in (tmp_path / "table6_captioning.md").read_text()


def test_every_feature_comes_from_one_read_of_each_batch_of_S():
    """The paper profile computes S per batch (AudioMAE on 10-s clips): every feature of a batch is
    taken from one read of it, and each feature is the model's own output for the clip."""
    from hsm_lib.models.clap import CLAPBaseline, CLAPConfig
    from hsm_lib.models.qaudio import QAudio, QAudioConfig
    from hsm_lib.stages.captioning import clip_features

    S = torch.randn(70, 5, 8)

    class Counted:
        reads = 0

        def __len__(self):
            return len(S)

        def __getitem__(self, idx):
            Counted.reads += 1
            return S[idx]

    torch.manual_seed(0)
    qaudio = QAudio(QAudioConfig(audio_dim=8, text_dim=8, dim=16, heads=2, embed_dim=8, vocab_size=10, backbone_vocab=10)).eval()
    clap = CLAPBaseline(CLAPConfig(audio_dim=8, text_dim=8, dim=16, embed_dim=8)).eval()
    got = clip_features(["none", "clap", "audiomae", "qaudio"], Counted(), qaudio, clap, batch_size=64)
    assert Counted.reads == 2
    assert {k: tuple(v.shape) for k, v in got.items()} == {"none": (70, 1), "clap": (70, 8), "audiomae": (70, 8), "qaudio": (70, 16)}
    with torch.no_grad():
        torch.testing.assert_close(got["qaudio"][64:], qaudio.audio_features(S[64:]).flatten(1))
        torch.testing.assert_close(got["clap"][:3], clap.audio_embedding(S[:3]))
    torch.testing.assert_close(got["audiomae"], S.mean(1))
    assert not got["none"].any()
