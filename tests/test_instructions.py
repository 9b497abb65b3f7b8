"""The instruction parser (paper Sec. III-F): rules on a table of cases, errors, the LLM backend
with a fake generator, and `hsm-tss parse`."""

from __future__ import annotations

import json

import pytest

from hsm_lib.text.instructions import (Instruction, InstructionError, LLMInstructionParser, parse_instruction,
                                       parse_rules, validate_llm_output)
from hsm_lib.text.instruction_cases import load_cases


def test_the_papers_example():
    assert parse_instruction("Could you help me separate the sound of a dog barking and the background music?") == \
        Instruction("extraction", "a dog barking and the background music")


def test_public_import():
    import hsm_lib

    assert hsm_lib.parse_instruction is parse_instruction and hsm_lib.Instruction is Instruction


CASES = load_cases()


@pytest.mark.parametrize("text,task,caption", CASES, ids=[c[0][:40] for c in CASES])
def test_rule_parser_on_the_development_set(text, task, caption):
    assert parse_rules(text) == Instruction(task, caption)


def test_held_out_set_loads_and_the_parser_mostly_agrees():
    from hsm_lib.text.instruction_cases import HELD_OUT, accuracy

    cases = load_cases(HELD_OUT)
    assert len(cases) == 80
    # not tuned on: a floor well under the measured 0.94 exact, so that a regression shows
    assert accuracy(parse_rules, cases)["exact_accuracy"] > 0.85


# Forms added after the second fresh set was read (issue 17): idiomatic verbs, inversions stated by what
# may go or stay, a whole recording without a part, "A but not B", and words after the sound that place it
# in the file or the user's project rather than describe it.
NEW_FORMS = [
    ("Scrap the snoring.", "removal", "the snoring"),
    ("Keep the harp and bin the rest.", "extraction", "the harp"),
    ("save the bird song and throw away everything else", "extraction", "the bird song"),
    ("All but the xylophone can go.", "extraction", "the xylophone"),
    ("Everything but the metronome should stay.", "removal", "the metronome"),
    ("Leave out nothing but the laugh track.", "removal", "the laugh track"),
    ("I don't want anything except the rain.", "extraction", "the rain"),
    ("Could you not remove anything except the gunshots?", "removal", "the gunshots"),
    ("Can I get the track without the bass line?", "removal", "the bass line"),
    ("Give me the guitar without the amp buzz.", "extraction", "the guitar"),
    ("The vocals but not the backing vocals, please.", "extraction", "the vocals"),
    ("Remove the clapping at the end of the clip.", "removal", "the clapping"),
    ("Take out the crackling that ruined my wedding video.", "removal", "the crackling"),
    ("Remove the beeping from the truck reversing, it drives me nuts.", "removal", "the beeping from the truck reversing"),
    ("Label: keep | sound: a baby giggling", "extraction", "a baby giggling"),
    ("Wind chimes - remove.", "removal", "wind chimes"),
    ("Don't keep the crickets chirping, get rid of them.", "removal", "the crickets chirping"),
    ("Don't remove the whale song, remove everything else.", "extraction", "the whale song"),
    ("I need only the applause at the end", "extraction", "the applause at the end"),   # a bare "at the end" describes
    ("Keep the speech, but lose the keyboard typing.", "removal", "the keyboard typing"),
    ("Dialogue stays, gunfire goes.", "removal", "gunfire"),
    ("Wipe the pops and clicks from this old vinyl rip.", "removal", "the pops and clicks"),
    # several sentences: the one the rules read surely, when no other holds a task word
    ("Can the snoring be removed? My husband snores through the whole recording.", "removal", "the snoring"),
    ("I'm making a ringtone. I only need the bell chimes from this clip, nothing else.", "extraction", "the bell chimes"),
]


@pytest.mark.parametrize("text", ["Hear the birds? Remove them.", "There's a kettle whistling in the kitchen. I'd like it removed.",
                                  "Don't remove the singing. Take out the drums.", "The cymbals are too harsh. Cut them out."])
def test_a_sound_named_in_one_sentence_and_acted_on_in_another_is_left_to_the_learned_parser(text):
    from hsm_lib.text.instructions import rules_unsure

    assert rules_unsure(text) is not None


@pytest.mark.parametrize("text,task,caption", NEW_FORMS, ids=[c[0][:40] for c in NEW_FORMS])
def test_forms_read_from_the_second_fresh_set(text, task, caption):
    from hsm_lib.text.instructions import rules_unsure

    assert parse_rules(text) == Instruction(task, caption)
    assert rules_unsure(text) is None


@pytest.mark.parametrize("caption", ["chopping wood", "solo violin playing", "dump truck reversing"])
def test_idiomatic_verbs_do_not_swallow_bare_descriptions(caption):
    """Verbs whose -ing form or noun use names a sound are not read as task verbs there."""
    assert parse_rules(caption).task == "extraction"


def test_case_tables_reject_malformed_rows(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("# ok\nremove the dog\tremoval\n")
    with pytest.raises(ValueError, match="bad.tsv:2"):
        load_cases(bad)


def test_development_set_is_varied():
    assert len(CASES) >= 100
    tasks = [c[1] for c in CASES]
    assert min(tasks.count("extraction"), tasks.count("removal")) >= 40


@pytest.mark.parametrize("caption", ["a dog barks twice, then a door opens", "high-pitched beeping and a low hum",
                                     "the sound of a car horn"])
def test_the_data_templates_round_trip(caption):
    """Every instruction template the training data uses gives back its task and caption."""
    from hsm_lib.data.captions import EXTRACTION_TEMPLATES, REMOVAL_TEMPLATES

    want = caption.removeprefix("the sound of ")
    for templates, task in ((EXTRACTION_TEMPLATES, "extraction"), (REMOVAL_TEMPLATES, "removal")):
        for t in templates:
            assert parse_rules(t.format(c=caption)) == Instruction(task, want), t


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "please", "Remove", "extract it", "?!"])
def test_empty_instructions_are_errors(bad):
    with pytest.raises(InstructionError):
        parse_instruction(bad)


@pytest.mark.parametrize("bad", [None, 3, b"remove the dog", ["remove the dog"]])
def test_non_text_is_an_error(bad):
    with pytest.raises(InstructionError, match="must be text"):
        parse_instruction(bad)


def test_llm_output_validation():
    ins = "please get rid of the loud traffic noise"
    assert validate_llm_output('{"task": "removal", "caption": "the loud traffic noise"}', ins) == \
        Instruction("removal", "the loud traffic noise")
    assert validate_llm_output('noise before {"task": "removal", "caption": "The  Loud traffic noise"} after', ins) == \
        Instruction("removal", "the loud traffic noise")
    for bad in ["", "not json", '{"task": "removal"}', '{"task": "delete", "caption": "the loud traffic noise"}',
                '{"task": "removal", "caption": ""}', '{"task": "removal", "caption": 3}',
                '{"task": "removal", "caption": "cars honking"}',  # words the instruction never used
                '{"task": "removal", "caption": "the loud traffic noise"']:
        assert validate_llm_output(bad, ins) is None, bad


def test_llm_backend_uses_valid_output_and_falls_back_otherwise():
    prompts = []

    def fake(prompt):
        prompts.append(prompt)
        return ' {"task": "removal", "caption": "the piano"}\nInstruction: ...'

    parser = LLMInstructionParser(fake)
    assert parse_instruction("drop the piano, would you", parser) == Instruction("removal", "the piano")
    assert prompts[0].rstrip().endswith("Instruction: drop the piano, would you\nJSON:")
    assert parser.fallbacks == 0

    def broken(prompt):
        raise RuntimeError("model exploded")

    for gen in (lambda p: "I think you want to remove it.", lambda p: None, broken):
        p = LLMInstructionParser(gen)
        assert p("remove everything except the piano") == Instruction("extraction", "the piano")
        assert p.fallbacks == 1
    with pytest.raises(InstructionError):  # input errors are not hidden by the backend
        LLMInstructionParser(fake)("  ")


def test_cli_parse(capsys):
    from hsm_lib.cli import main

    assert main(["parse", "--rules-only", "Remove: a man shouting"]) == 0
    assert json.loads(capsys.readouterr().out) == {"task": "removal", "caption": "a man shouting", "path": "rules",
                                                   "reason": "--rules-only"}
    assert main(["parse", "--rules-only", "keep", "everything", "but", "the", "vocals"]) == 0
    assert json.loads(capsys.readouterr().out)["caption"] == "the vocals"
    assert main(["parse", "   "]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "empty" in captured.err and captured.err.count("\n") == 1


def test_a_refused_instruction_in_a_set_is_a_miss_not_a_crash():
    from hsm_lib.eval.parser_eval import score_parser

    score = score_parser(parse_rules, [("remove it", "removal", "the dog"), ("remove the dog", "removal", "the dog")])
    assert score.task.tolist() == [0.0, 1.0] and score.caption.tolist() == [0.0, 1.0] and len(score.misses) == 1


def test_a_reference_only_reading_is_its_own_error():
    from hsm_lib.text.instructions import ReferenceOnlyError

    with pytest.raises(ReferenceOnlyError):
        parse_rules("extract it from the mix")
    assert issubclass(ReferenceOnlyError, InstructionError)
