"""Stage ``parser``: the instruction parser (paper Sec. III-F), learned where the rules fall short.

Generates training instructions (:mod:`hsm_lib.text.instruction_generator`), trains the learned
parser's head on the frozen MiniLM (:mod:`hsm_lib.train.instruction_parser`), saves it to
``data/<profile>/models/instruction_parser`` (where :class:`hsm_lib.pipeline.Separator` finds it
beside the other models), and scores the rules, the learned parser and the hybrid on:

- the third fresh held-out set, written blind for issue 17 before the last change, never tuned on;
- the fourth, second and first fresh sets (the second and first blind when first scored, the fourth
  read at once; their misses then shaped the rules and the generator: development sets);
- the first held-out set (written without reading the rules);
- the development set (the rules were tuned on it);
- generated instructions from a seed the training never used (the generator's own forms);
- the corpus's own instructions (template-made: an upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from hsm_lib import paths
from hsm_lib.config import check_keys, profile_section
from hsm_lib.data.triplets import TripletSet
from hsm_lib.eval.parser_eval import SetScore, score_many, score_parser, write_parser_table
from hsm_lib.stages.common import loss_figure, n_parameters, saved
from hsm_lib.text.instruction_cases import DEVELOPMENT, FRESH, FRESH2, FRESH3, FRESH4, HELD_OUT, load_cases
from hsm_lib.text.instruction_generator import generate
from hsm_lib.text.instructions import InstructionError
from hsm_lib.text.learned_parser import Decision, FrozenEncoder, HybridParser, LearnedParser, ParserConfig
from hsm_lib.train.instruction_parser import encode_examples, train_parser

PARSER_FOLDER = "instruction_parser"
CORPUS_INSTRUCTIONS = 1000     # per corpus set: the learned parser reads every one, batched
NOTES = [
    "The paper parses with an LLM. Offline, three parsers: the rules (hsm_lib/text/instructions.py); a learned parser "
    "(a task classifier and a caption-span pointer on frozen all-MiniLM-L6-v2, trained on generated instructions); "
    "and the hybrid, which takes the rules' reading unless hsm_lib.text.instructions.rules_unsure flags it, and "
    "the learned parser's otherwise. The separator and `hsm-tss` use the hybrid.",
    "caption %: task right and word-overlap F1 with the reference caption >= 0.75. exact %: task and caption equal "
    "the reference. Intervals: 95 % bootstrap over instructions.",
    "Third fresh held-out set: written blind for issue 17 (by an author who read no parser, generator, other set, "
    "test or report) before the last change to the parsers, and kept out of the package until that change was "
    "made; nothing was tuned on it. Second and first fresh sets: written the same way and each scored once blind "
    "(second: hybrid 91.6 % task, 76.4 % caption; first: 91.9 % and 79.4 %; git log -p reports/parser_accuracy.md); "
    "their misses were then read and the rules and the generator extended, so they are now development sets. "
    "Fourth fresh set: written the same way after the third, and read at once (before the third was scored) to find "
    "what the rules and the generator still missed: a development set from the start. "
    "First held-out set: written without reading the rules, not used to change them. Development set: the rules "
    "were tuned on it.",
    "Generated held-out: the training generator with an unseen seed, so the same forms (an in-distribution check). "
    "Corpus: the training and mixed test triplets' template instructions, which the rules were written for.",
    "The separator's own training and test examples are parsed by the rules (their instructions are template-made; "
    "see the corpus row).",
]


@dataclass
class ParserResult:
    """What the parser notebook shows."""

    parser: HybridParser
    table: str
    history: dict[str, list[float]]
    loss_figure: Figure
    parameters: int


def corpus_cases(profile: str, limit: int = CORPUS_INSTRUCTIONS) -> list[tuple[str, str, str]]:
    """(instruction, task, caption) of the corpus's training and mixed test triplets."""
    corpus = paths.corpus_dir(profile)
    cases = []
    for folder, name in (("triplets", "train"), ("testsets", "mixed")):
        records = TripletSet(corpus / folder, name).records
        found = [(ins["text"], ins["task"], ins["caption"].lower().removeprefix("the sound of "))
                 for rec in records for ins in rec["instructions"].values()]
        cases += found[:limit]
    return cases


def evaluation_sets(profile: str, seed: int, generated: int) -> dict[str, list[tuple[str, str, str]]]:
    held_out_generated = [(g.text, g.task, g.caption) for g in generate(generated, seed=seed + 1_000_003)]
    return {"third fresh held-out (written blind; never tuned on)": load_cases(FRESH3),
            "fourth fresh set (written blind, read before the third was scored: development)": load_cases(FRESH4),
            "second fresh set (blind at first scoring; since a development set)": load_cases(FRESH2),
            "first fresh set (blind at first scoring; since a development set)": load_cases(FRESH),
            "first held-out (written without reading the rules)": load_cases(HELD_OUT),
            "development (the rules were tuned on it)": load_cases(DEVELOPMENT),
            "generated, unseen seed (in distribution)": held_out_generated,
            "corpus instructions (templates)": corpus_cases(profile)}


def decide_each(hybrid: HybridParser, texts: list[str]) -> dict[str, Decision | None]:
    """The hybrid's decision on each instruction, batched; None where it refuses one (a set's
    instruction it reads as naming no sound: scored as a miss, not a crash)."""
    try:
        return dict(zip(texts, hybrid.decide_many(texts)))
    except InstructionError:
        out: dict[str, Decision | None] = {}
        for text in texts:
            try:
                out[text] = hybrid.decide(text)
            except InstructionError:
                out[text] = None
        return out


def run(profile: str, params: dict | None = None, progress: bool = True) -> ParserResult:
    """Train the learned parser, save it, and score the three parsers on every set."""
    P = params if params is not None else profile_section("parser", profile)
    check_keys(P, {"examples", "steps", "batch_size", "lr", "dim", "layers", "seed", "generated_eval"}, "parser")
    encoder = FrozenEncoder()
    examples = generate(P["examples"], seed=P["seed"])
    data = encode_examples(examples, encoder, progress=progress)
    cfg = ParserConfig(dim=P["dim"], layers=P["layers"])
    head, history = train_parser(data, cfg, P["steps"], P["batch_size"], P["lr"], seed=P["seed"], progress=progress)
    learned = LearnedParser(head, encoder)
    learned.save(paths.profile_dir(profile) / "models" / PARSER_FOLDER, {"train": P, "history": history})
    hybrid = HybridParser(learned)

    scores: dict[str, dict[str, SetScore]] = {}
    sets = evaluation_sets(profile, P["seed"], P["generated_eval"])
    for name, cases in sets.items():
        decisions = decide_each(hybrid, [c[0] for c in cases])
        hybrid_score = score_parser(lambda text: decisions[text] and decisions[text].instruction, cases)
        hybrid_score.learned_path = sum(d is not None and d.path == "learned" for d in decisions.values())
        scores[name] = {"rules": score_parser(lambda text: decisions[text] and decisions[text].rules, cases),   # read once
                        "learned": score_many(learned.instructions, cases),
                        "hybrid (used)": hybrid_score}
    write_parser_table(scores, {k: len(v) for k, v in sets.items()}, NOTES)
    fig = saved(loss_figure(history, "task + start + end cross-entropy", "Learned parser training loss (mean of {k} points)"),
                "parser_loss")
    table = (paths.reports_dir() / "parser_accuracy.md").read_text()
    return ParserResult(hybrid, table, history, fig, n_parameters(head))
