"""The instruction parsers scored on every evaluation set: ``reports/parser_accuracy.{md,json}``.

Three parsers: the rules, the learned parser alone, and the hybrid the separator uses (rules
where they are sure, the learned parser where not). Per set and parser:

- task %: the task is right;
- caption %: the task is right and the caption's word-overlap F1 with the reference is at
  least 0.75 (the measure issue 17 set; it forgives an article or a trailing word);
- exact %: task and caption both equal the reference.

Each share carries its 95 % bootstrap interval over instructions (:func:`bootstrap_ci`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from hsm_lib.eval.stats import Estimate, bootstrap_ci
from hsm_lib.reporting import write_table
from hsm_lib.text.instruction_cases import token_f1
from hsm_lib.text.instructions import Instruction, InstructionError

CAPTION_F1 = 0.75
Case = tuple[str, str, str]       # instruction, task, caption


@dataclass
class SetScore:
    """One parser on one set: per-instruction 0/1 outcomes [N], and the misses."""

    task: np.ndarray
    caption: np.ndarray
    exact: np.ndarray
    misses: list[dict]
    learned_path: int | None = None     # hybrid only: how many instructions the learned parser decided


def _answer(parse: Callable[[str], Instruction | None], text: str) -> Instruction:
    """The parser's reading; a refusal (InstructionError, or no reading) of a set's instruction is a miss."""
    try:
        got = parse(text)
    except InstructionError as e:
        return Instruction("error", f"<{e}>")    # neither task nor caption can match: a miss  # type: ignore[arg-type]
    return got if got is not None else Instruction("error", "<no reading>")  # type: ignore[arg-type]


def score_parser(parse: Callable[[str], Instruction | None], cases: Sequence[Case]) -> SetScore:
    got = [_answer(parse, text) for text, _, _ in cases]
    task = np.array([g.task == t for g, (_, t, _) in zip(got, cases)], float)
    caption = np.array([g.task == t and token_f1(g.caption, c) >= CAPTION_F1 for g, (_, t, c) in zip(got, cases)], float)
    exact = np.array([g.task == t and g.caption == c for g, (_, t, c) in zip(got, cases)], float)
    misses = [{"instruction": text, "want": [t, c], "got": [g.task, g.caption]}
              for g, (text, t, c) in zip(got, cases) if g.task != t or token_f1(g.caption, c) < CAPTION_F1]
    return SetScore(task, caption, exact, misses)


def score_many(parse_many: Callable[[list[str]], list[Instruction]], cases: Sequence[Case]) -> SetScore:
    """:func:`score_parser` for a parser that reads a whole list at once (the learned one, batched)."""
    texts = [c[0] for c in cases]
    try:
        answers = dict(zip(texts, parse_many(texts)))
    except InstructionError:   # one refused instruction: read them one by one, the refused one a miss
        return score_parser(lambda text: parse_many([text])[0], cases)
    return score_parser(lambda text: answers[text], cases)


def percent(outcomes: np.ndarray) -> Estimate:
    """A share of 0/1 outcomes [N] in percent, with its 95 % bootstrap interval."""
    e = bootstrap_ci(outcomes)
    return Estimate(100 * float(e), 100 * e.lo, 100 * e.hi, e.n)


def write_parser_table(scores: dict[str, dict[str, SetScore]], sizes: dict[str, int], notes: Sequence[str] = ()) -> None:
    """``scores``: set name -> parser name -> score."""
    rows, misses = [], {}
    for set_name, by_parser in scores.items():
        for parser_name, s in by_parser.items():
            rows.append([set_name, sizes[set_name], parser_name, percent(s.task), percent(s.caption),
                         100 * float(s.exact.mean()), "" if s.learned_path is None else s.learned_path])
            misses[f"{set_name} | {parser_name}"] = s.misses
    write_table("parser_accuracy", "Instruction parsers: accuracy on every evaluation set",
                ["set", "instructions", "parser", "task %", "caption % (F1 >= 0.75)", "exact %", "decided by learned"],
                rows, notes=notes, data={"misses": misses})
