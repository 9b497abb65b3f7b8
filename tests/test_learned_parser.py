"""The learned instruction parser: its training data, its head, its decoding, saving and loading,
and the hybrid's choice of path."""

from __future__ import annotations

import pytest
import torch

from hsm_lib.text.instruction_generator import generate
from hsm_lib.text.learned_parser import (FrozenEncoder, HybridParser, LearnedParser, ParserConfig, best_spans,
                                         normalise, strip_edges, word_bounds)
from hsm_lib.text.instructions import Instruction, InstructionError, parse_rules, rules_unsure
from hsm_lib.train.instruction_parser import encode_examples, train_parser


def test_generated_captions_are_spans_of_the_instruction():
    examples = generate(400, seed=3)
    assert {e.task for e in examples} == {"extraction", "removal"}
    for e in examples:
        a, z = e.span
        assert normalise(e.text)[a:z] == e.caption, e
    assert [x.text for x in generate(30, seed=3)] == [x.text for x in generate(30, seed=3)]


def test_best_span_respects_order_and_length():
    start = torch.full((1, 6), -9.0)
    end = torch.full((1, 6), -9.0)
    start[0, 4], end[0, 1] = 5.0, 5.0          # the best start comes after the best end: not allowed
    end[0, 5] = 4.0
    s, e, p = best_spans(start, end, max_span=3)
    assert (int(s), int(e)) == (4, 5) and 0 < float(p) <= 1


def test_spans_widen_to_whole_words_and_lose_edge_punctuation():
    text = "remove the woman's voice, please"
    a, z = word_bounds(text, 7, 13)                   # "the wo" -> "the woman's"
    assert text[a:z] == "the woman's"
    assert strip_edges(" the hum.") == "the hum"
    assert strip_edges('a woman says "hello".') == 'a woman says "hello"'


def test_rules_unsure_flags_what_the_rules_misread():
    assert rules_unsure("remove the dog barking") is None
    assert rules_unsure("There's a lawnmower going the whole time. Can you get rid of it?") is not None
    assert rules_unsure("The tapping from the radiator - can you make it disappear?") is not None
    # a form the rules now read themselves: a whole recording without a part removes the part
    assert rules_unsure("just the song without the crowd noise") is None
    assert parse_rules("just the song without the crowd noise") == Instruction("removal", "the crowd noise")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    encoder = FrozenEncoder()
    data = encode_examples(generate(300, seed=0), encoder)
    head, history = train_parser(data, ParserConfig(dim=32, layers=1, heads=2), steps=100, batch_size=16)
    folder = tmp_path_factory.mktemp("parser") / "instruction_parser"
    LearnedParser(head, encoder).save(folder, {"history": history})
    return LearnedParser(head, encoder), folder, history


def test_training_lowers_the_loss(trained):
    _, _, history = trained
    assert history["loss"][-1] < history["loss"][0]


def test_a_saved_parser_loads_and_answers_the_same(trained):
    parser, folder, _ = trained
    again = LearnedParser.load(folder)
    texts = ["remove the dog barking", "I only want the piano, please!"]
    assert [(r.task, r.caption) for r in again.parse_many(texts)] == [(r.task, r.caption) for r in parser.parse_many(texts)]
    for text, r in zip(texts, parser.parse_many(texts)):
        assert r.task in ("extraction", "removal") and r.caption in normalise(text) and 0 <= r.confidence <= 1


def test_the_hybrid_uses_the_rules_when_they_are_sure(trained):
    parser, _, _ = trained
    hybrid = HybridParser(parser)
    sure = hybrid.decide("remove the dog barking")
    assert (sure.path, sure.instruction.task, sure.instruction.caption) == ("rules", "removal", "the dog barking")
    unsure = hybrid.decide("There's a hum in the background. Kill it.")
    assert unsure.path in ("learned", "rules") and unsure.learned is not None and "unsure" in unsure.reason
    assert [d.instruction for d in hybrid.decide_many(["remove the dog barking", "extract the piano"])] == \
        [hybrid("remove the dog barking"), hybrid("extract the piano")]
    with pytest.raises(InstructionError):
        hybrid("   ")


def test_cli_parse_says_which_path_decided(trained, capsys, tmp_path, monkeypatch):
    import json

    from hsm_lib import checkpoint_location
    from hsm_lib.cli import main

    _, folder, _ = trained
    assert main(["parse", "--checkpoint", str(folder.parent), "remove the dog barking"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["task"], out["caption"], out["path"]) == ("removal", "the dog barking", "rules")
    assert main(["parse", "--checkpoint", str(folder.parent), "There's a hum in the background. Kill it."]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "unsure" in out["reason"] and "learned_confidence" in out
    # nowhere to find a learned parser: the rules answer, and say why
    monkeypatch.delenv(checkpoint_location.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(checkpoint_location, "checkout_checkpoint_dir", lambda: None)
    assert main(["parse", "extract the piano"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"] == "rules" and "no learned parser" in out["reason"]
