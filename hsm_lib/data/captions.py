"""Captions and instructions from templates.

Captions keep what the clip holds: which events, in which order, how many times, and their
attributes ("a dog barks twice, then a door opens"; "a quiet high siren wails while rain
falls"). Instructions wrap a caption in a task phrase, in both directions (extraction of the
target's caption, removal of the other's), with varied, human phrasings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hsm_lib.data.taxonomy import TagRule, rule_for_tag

COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times"}


@dataclass(frozen=True)
class EventText:
    """What a caption needs to know about one event of a clip."""

    tag: str
    label: str
    count: int
    attributes: tuple[str, ...] = ()
    words: str = ""  # what is said, for speech


def _with_article(noun: str, adjectives: list[str]) -> str:
    """'a dog' + ['loud'] -> 'a loud dog'; 'rain' + ['quiet'] -> 'quiet rain'."""
    if not adjectives:
        return noun
    adj = " ".join(adjectives)
    for art in ("a ", "an "):
        if noun.startswith(art):
            article = "an" if adj[0] in "aeiou" else "a"
            return f"{article} {adj} {noun[len(art):]}"
    return f"{adj} {noun}"


def _adjectives(event: EventText, rng: random.Random) -> list[str]:
    out = []
    for a in event.attributes:
        if a in ("high", "low", "loud", "quiet", "distant"):
            out.append(a if a not in ("high", "low") else f"{a}-pitched" if rng.random() < 0.5 else a)
    return out


def _adverb(event: EventText) -> str:
    return {"fast": " quickly", "slow": " slowly"}.get(next((a for a in event.attributes if a in ("fast", "slow")), ""), "")


def describe_event(event: EventText, rng: random.Random, *, gerund: bool = False) -> str:
    """One event as a clause ('a dog barks twice') or a noun phrase ('a dog barking twice')."""
    rule: TagRule = rule_for_tag(event.tag)
    noun = _with_article(rule.noun, _adjectives(event, rng))
    if event.words and rng.random() < 0.5:
        verb = "saying" if gerund else "says"
        return f'{noun} {verb} "{event.words}"'
    verb = rule.gerund if gerund else rule.verb
    count = ""
    if event.count >= 2:
        count = " " + (COUNT_WORDS.get(event.count, "repeatedly") if rng.random() < 0.7 else "repeatedly")
    return f"{noun} {verb}{_adverb(event)}{count}"


SEQUENCE_TEMPLATES = (
    "{a}, then {b}",
    "{a}, followed by {b}",
    "{a} before {b}",
    "first {a}, then {b}",
    "{a} and then {b}",
)
OVERLAP_TEMPLATES = ("{a} while {b}", "{a} as {b}", "{a} and {b} at the same time")


def caption_for(events: list[EventText], overlapping: bool, rng: random.Random) -> str:
    """Caption for 1–2 events listed in order of first onset."""
    if len(events) == 1:
        e = events[0]
        form = rng.random()
        if form < 0.6:
            return describe_event(e, rng)
        if form < 0.85:
            return describe_event(e, rng, gerund=True)
        return f"the sound of {describe_event(e, rng, gerund=True)}"
    a, b = describe_event(events[0], rng), describe_event(events[1], rng)
    template = rng.choice(OVERLAP_TEMPLATES if overlapping else SEQUENCE_TEMPLATES)
    return template.format(a=a, b=b)


def label_caption(labels: list[str]) -> str:
    """The raw-label description the paper keeps beside captions ('snare drum, kick')."""
    return ", ".join(dict.fromkeys(labels))


# --- instructions ------------------------------------------------------------------------

EXTRACTION_TEMPLATES = (
    "extract {c}",
    "Extract {c}.",
    "Please isolate {c}.",
    "separate {c} from the mixture",
    "Could you help me separate {c}?",
    "keep only {c}",
    "I only want to hear {c}.",
    "pick out {c}",
    "Can you pull out {c} from this recording?",
    "focus on {c}",
    "bring out {c} and drop everything else",
    "Extract: {c}",
)
REMOVAL_TEMPLATES = (
    "remove {c}",
    "Remove {c}.",
    "Please get rid of {c}.",
    "filter out {c}",
    "mute {c}",
    "Could you take out {c}?",
    "I don't want to hear {c}.",
    "suppress {c} in this recording",
    "cut {c} from the mix",
    "erase {c}",
    "silence {c}, keep the rest",
    "Remove: {c}",
)


def extraction_instruction(caption: str, rng: random.Random) -> str:
    return rng.choice(EXTRACTION_TEMPLATES).format(c=caption)


def removal_instruction(caption: str, rng: random.Random) -> str:
    return rng.choice(REMOVAL_TEMPLATES).format(c=caption)
