"""The parser's evaluation sets: tab-separated (instruction, task, caption) tables."""

from __future__ import annotations

from pathlib import Path

# written alongside the rules (the parser was tuned on it: an optimistic estimate)
DEVELOPMENT = Path(__file__).with_name("instruction_cases.tsv")
# written by someone who had not read the parser, and not used to tune it afterwards
HELD_OUT = Path(__file__).with_name("instruction_cases_heldout.tsv")
# written blind for issue 17 (neither the rules nor the learned parser's generator read). Scored once
# blind (hybrid 91.9 % task, 79.4 % caption); its misses were then read and the generator and the
# rules' unsure test extended: since then a development set
FRESH = Path(__file__).with_name("instruction_cases_fresh.tsv")
# the second blind set, written after that change by an author who saw no parser, no generator and
# no other set. Scored blind by the pipeline (hybrid 91.6 % task, 76.4 % caption); its misses were then
# read and the rules and the generator extended: since then a development set
FRESH2 = Path(__file__).with_name("instruction_cases_fresh2.tsv")
# the third blind set (200 instructions, 100 per task), written before that change by an author who
# read no parser, generator, set, test or report; kept out of the package until the change was made,
# then scored once by the pipeline. Nothing is tuned on it
FRESH3 = Path(__file__).with_name("instruction_cases_fresh3.tsv")
# the fourth blind set (160), written the same way after the third, then read at once to find what the
# rules and the generator still missed before the third was scored: a development set from the start
FRESH4 = Path(__file__).with_name("instruction_cases_fresh4.tsv")


def load_cases(path: str | Path = DEVELOPMENT) -> list[tuple[str, str, str]]:
    """Rows of a case table; '#' lines are comments."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] not in ("extraction", "removal"):
            raise ValueError(f"{path}:{n}: expected instruction<TAB>extraction|removal<TAB>caption, got {line!r}")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def accuracy(parse, cases: list[tuple[str, str, str]]) -> dict:
    """Share of cases whose task (and task and caption) ``parse`` gets exactly right; the misses."""
    task_ok = both_ok = 0
    misses = []
    for text, task, caption in cases:
        got = parse(text)
        task_ok += got.task == task
        both_ok += got.task == task and got.caption == caption
        if got.task != task or got.caption != caption:
            misses.append({"instruction": text, "want": [task, caption], "got": [got.task, got.caption]})
    n = len(cases)
    return {"cases": n, "task_accuracy": task_ok / n, "exact_accuracy": both_ok / n, "misses": misses}


def token_f1(predicted: str, reference: str) -> float:
    """Word-overlap F1 of two captions (SQuAD-style, on lower-cased whitespace words)."""
    a, b = predicted.lower().split(), reference.lower().split()
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)
