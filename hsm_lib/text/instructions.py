"""Instruction parsing (paper Sec. III-F): a free-form instruction -> task + audio description.

    >>> parse_instruction("Could you help me separate the sound of a dog barking and the background music?")
    Instruction(task='extraction', caption='a dog barking and the background music')
    >>> parse_instruction("remove everything except the piano")
    Instruction(task='extraction', caption='the piano')

The paper asks an LLM. The offline default here is a rule-based parser for what people type:
imperatives, polite requests and questions, extraction and removal verbs, inversions ("remove
everything except X" extracts X; "keep everything but X" removes X), "I don't want to hear X",
labels ("Remove: X") and bare captions (extraction). It strips framing ("please", "the sound
of", "from the mix") and keeps the description's own words, order and attributes, lower-cased.
:class:`LLMInstructionParser` asks a local ``transformers`` model instead, validates its JSON,
and falls back to the rules on anything invalid.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Callable, Literal

Task = Literal["extraction", "removal"]
TASKS: tuple[str, ...] = ("extraction", "removal")


class InstructionError(ValueError):
    """The instruction is empty, not text, or names no sound."""


@dataclass(frozen=True)
class Instruction:
    task: Task
    caption: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# --- vocabulary ---------------------------------------------------------------------------------

# Longest phrases first within each alternation (regex alternation is first-match).
_EXTRACT_VERBS = sorted([
    "extract", "isolate", "separate out", "separate", "keep only", "keep just", "keep", "pick out",
    "pull out", "bring out", "bring forward", "focus on", "single out", "leave only", "leave just",
    "give me only", "give me just", "give me", "get me", "let me hear only", "let me hear just",
    "let me hear", "retrieve", "preserve", "select", "grab", "capture", "enhance", "emphasize",
    "emphasise", "highlight", "split out", "play only", "play just", "play", "hear", "listen to",
], key=len, reverse=True)
_REMOVE_VERBS = sorted([
    "remove", "get rid of", "mute", "filter out", "filter", "take out", "take away", "cut out", "cut",
    "suppress", "silence", "drop", "erase", "delete", "eliminate", "kill", "block out", "block",
    "strip out", "strip", "cancel out", "cancel", "exclude", "discard", "subtract", "lose", "ditch",
    "turn off", "clean out", "clean up", "reduce", "denoise", "attenuate", "wipe out",
    "knock out", "edit out", "clear out", "omit", "leave out",
], key=len, reverse=True)
_EVERYTHING = r"(?:everything(?: else)?|all(?: (?:the )?(?:other )?(?:sounds?|audio|noises?))?|anything|every (?:other )?sound|all else|the rest(?: of (?:it|the (?:audio|sounds?|mix)))?|other sounds)"
_EXCEPT = r"(?:except(?: for)?|but(?: for)?|other than|apart from|besides|save for|aside from|excluding|minus|leaving)"
# polite or conversational openings, removed repeatedly from the start
_OPENINGS = [
    r"please", r"pls", r"plz", r"kindly", r"hey", r"hi", r"hello", r"ok(?:ay)?", r"so", r"now", r"then",
    r"(?:would|do) you mind", r"(?:could|can|would|will) you(?: please)?(?: help me(?: to)?| try to)?", r"help me(?: to)?",
    r"i(?: would like|'d like| want| need) (?:you )?to", r"i(?: would|'d) love (?:you )?to",
    r"is it possible to", r"(?:is there a way|any way) to",
    r"go ahead and", r"try to", r"let'?s", r"we need to", r"you should", r"just", r"simply",
    r"quickly", r"i need", r"i want",
]
_OPENING_RE = re.compile(r"^(?:" + "|".join(_OPENINGS) + r")\b[\s,]*")
# framing at the start of the description
_LEAD_FRAMING = re.compile(
    r"^(?:(?:the|any|all(?: of)? the|all) )?(?:sounds?|noises?|audio|recording) (?:of|from|made by) (?=\w)"
    r"|^(?:the |any )?(?:sounds?|noises?) (?=of\b)")
# framing at the end of the description (the mix, politeness, a second clause about the rest)
_TRAIL_FRAMING = re.compile(
    r"(?:[\s,]+(?:"
    r"(?:from|out of|in|within|off|on) (?:the|this|that|my|our|your|given) (?:\w+ )?(?:mix(?:ture)?|recording|audio(?: clip| file| track)?|clip|track|file|sound ?track|song|input|signal|sample|tape|video|soundscape|scene|excerpt|snippet|mixdown)"
    r"|(?:from|out of) (?:it|this|that|here)"
    r"|please|thanks|thank you|for me|if (?:you )?(?:can|could|possible)|if that'?s possible|right now|now"
    r"|(?:and|,)? ?(?:drop|remove|discard|mute|lose|get rid of|filter out|cut|suppress|silence) (?:everything|all) (?:else|the rest|other sounds)"
    r"|(?:and|,)? ?(?:keep|leave|preserve) (?:the rest|everything else|all else|the others?|the other sounds)"
    r"|(?:and|,)? ?(?:nothing|no) else|only|alone|by itself|by themselves|on (?:its|their) own|in isolation"
    r"))+$")
_END_PUNCT_ONLY = re.compile(r"[\s.!?;:,…]+$")


class _EndPunct:
    """Strips trailing punctuation, and a trailing quote only when it closes nothing
    ('a woman says "hello"' keeps its quotes; '"extract the dog"' loses the stray one)."""

    @staticmethod
    def sub(_: str, s: str) -> str:
        while True:
            t = _END_PUNCT_ONLY.sub("", s)
            if t.endswith(('"', "`")) and t.count(t[-1]) % 2 == 1:
                t = t[:-1]
            if t == s:
                return t
            s = t


_END_PUNCT = _EndPunct()
_START_PUNCT = re.compile(r"^[\s\"'`(\[-]+")


def _gerund(phrase: str) -> str:
    """"get rid of" -> "getting rid of", "remove" -> "removing"."""
    head, _, rest = phrase.partition(" ")
    if head.endswith("e") and not head.endswith("ee"):
        ing = head[:-1] + "ing"
    elif re.fullmatch(r"(?:[^aeiou]*[aeiou][bdgmnpt])", head) or head in ("omit", "submit"):
        ing = head + head[-1] + "ing"  # cut -> cutting, drop -> dropping, omit -> omitting
    else:
        ing = head + "ing"
    return f"{ing} {rest}".strip()


def _alt(words: list[str]) -> str:
    forms = sorted({f for w in words for f in (w, _gerund(w))}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w) for w in forms) + ")"


_EXTRACT = _alt(_EXTRACT_VERBS)
_REMOVE = _alt(_REMOVE_VERBS)
_ONLY = r"(?:only|just|solely|exclusively)"

# (pattern, task): the first to match wins; group "c" is the description.
_RULES: list[tuple[re.Pattern, Task]] = [(re.compile(p), t) for p, t in [
    # inversions
    (rf"^(?:{_REMOVE}|get rid of) {_EVERYTHING},? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (rf"^(?:{_REMOVE}) (?:everything|all) (?:that is|that's) not (?P<c>.+)$", "extraction"),
    (rf"^(?:keep|leave|preserve|retain|give me|let me hear|play|extract) {_EVERYTHING},? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^{_EVERYTHING},? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^(?:do not|don'?t|never) (?:{_REMOVE}) (?P<c>.+)$", "extraction"),
    (r"^(?:do not|don'?t|never) (?:keep|extract|isolate|include) (?P<c>.+)$", "removal"),
    # wishes
    (r"^i (?:do not|don'?t|never) (?:want|wish|need|like) to hear (?:any(?:thing of)? )?(?P<c>.+)$", "removal"),
    (r"^i (?:do not|don'?t) (?:want|need|like) (?P<c>.+)$", "removal"),
    (r"^(?:i(?: would|'d)? )?(?:rather|prefer to) not hear (?P<c>.+)$", "removal"),
    (r"^(?:without|no more|no|minus|less) (?P<c>.+)$", "removal"),
    (r"^(?P<c>.+?) (?:has to|must|should|needs to|have to) (?:go|be removed|be gone|disappear)$", "removal"),
    (r"^(?:make |have |get )?(?P<c>.+?) (?:removed|gone|muted|taken out|filtered out|silenced|erased|deleted|eliminated|suppressed|cut out)$", "removal"),
    (r"^(?:make |have |get )?(?P<c>.+?) (?:isolated|extracted|separated|singled out)$", "extraction"),
    (rf"^(?:i )?(?:{_ONLY} )?(?:want|wish|need|would like|'d like) to (?:{_ONLY} )?hear (?:{_ONLY} )?(?P<c>.+)$", "extraction"),
    (rf"^i (?:{_ONLY} )?(?:want|need|would like|'d like) (?:{_ONLY} )?(?P<c>.+)$", "extraction"),
    # a particle after the object: "take the hum out", "pull the violin out of the mix"
    (r"^(?:take|cut|filter|leave|strip|edit|knock|block|get|keep) (?!out\b|away\b|rid of\b)(?P<c>.+?) out(?: of .+)?$", "removal"),
    (r"^(?:pull|pick|bring|single|separate|sort|tease) (?!out\b)(?P<c>.+?) out(?: of .+)?$", "extraction"),
    # labels: "Remove: X", "extraction - X"
    (rf"^(?:{_REMOVE}|removal|remove task)\s*[:=\-–]\s*(?P<c>.+)$", "removal"),
    (rf"^(?:{_EXTRACT}|extraction|extract task|target|query)\s*[:=\-–]\s*(?P<c>.+)$", "extraction"),
    # verbs
    (rf"^(?:{_ONLY} )?(?:{_REMOVE})(?: {_ONLY})? (?P<c>.+)$", "removal"),
    (rf"^(?:{_ONLY} )?(?:{_EXTRACT})(?: {_ONLY})? (?P<c>.+)$", "extraction"),
    (rf"^(?:{_ONLY}) (?P<c>.+)$", "extraction"),
    (r"^(?:what does|how does) (?P<c>.+?) sound(?: like)?(?: alone| by itself)?$", "extraction"),
]]
# a second clause that starts over with another verb ("keep the piano but remove the drums")
_SECOND_CLAUSE = re.compile(rf"(?:,? (?:but|and then|then|and also|also|while you'?re at it)|[;,]) (?:please )?(?:{_REMOVE}|{_EXTRACT}|make|turn)\b.*$")


_BARE_VERB = re.compile(rf"^(?:{_REMOVE}|{_EXTRACT}|removal|extraction)(?: (?:it|this|that|them|something|the sound|sounds?|audio))?$")
_NO_SOUND = {"it", "this", "that", "them", "something", "everything", "all", "the sound", "sound", "sounds", "audio"}


def _normalise(text: str) -> str:
    s = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    s = re.sub(r"\s+", " ", s).strip().lower()
    s = _START_PUNCT.sub("", s)
    return _END_PUNCT.sub("", s)


def _strip_openings(s: str) -> str:
    while True:
        t = _OPENING_RE.sub("", s, count=1)
        if t == s or not t:
            return t
        s = t


def _clean_caption(c: str) -> str:
    c = _END_PUNCT.sub("", c.strip())
    c = _SECOND_CLAUSE.sub("", c)
    for _ in range(3):  # framing can nest: "the sound of X from the mix, please"
        prev = c
        c = _TRAIL_FRAMING.sub("", c)
        c = _END_PUNCT.sub("", c)
        c = _LEAD_FRAMING.sub("", c)
        c = _START_PUNCT.sub("", c)
        if c == prev:
            break
    return c.strip()


def parse_rules(text: str) -> Instruction:
    """The rule-based parser (offline, deterministic)."""
    return parse_rules_traced(text)[0]


def parse_rules_traced(text: str) -> tuple[Instruction, int | None]:
    """:func:`parse_rules`, and the index in ``_RULES`` of the rule that matched (None: no rule
    matched, the whole instruction was read as a description of the sound)."""
    if not isinstance(text, str):
        raise InstructionError(f"an instruction must be text, got {type(text).__name__}")
    s = _strip_openings(_normalise(text))
    if not s:
        raise InstructionError("the instruction is empty")
    if _BARE_VERB.match(s):
        raise InstructionError(f"the instruction names no sound: {text!r}")
    for index, (pattern, task) in enumerate(_RULES):
        m = pattern.match(s)
        if m:
            caption = _clean_caption(m.group("c"))
            if caption in _NO_SOUND:
                raise InstructionError(f"the instruction names no sound ({caption!r} refers to nothing): {text!r}")
            if caption:
                return Instruction(task, caption), index
    caption = _clean_caption(s)  # a bare description asks for that sound
    if not caption:
        raise InstructionError(f"the instruction names no sound: {text!r}")
    return Instruction("extraction", caption), None


# What the rules were not written for. A caption holding any of these is likely a misread: a
# second sentence or clause, a task verb, a pronoun standing for the sound, framing words.
_UNSURE_IN_CAPTION = re.compile(
    r"[.;?!:—–]|\s-\s|\b(?:it|them|this one|that one)$"
    r"|\b(?:remove|removing|extract|isolate|mute|delete|erase|eliminate|get rid|filter|take|keep|keeping|separate|"
    r"suppress|silence|kill|lose|ditch|drop|cut|please|don'?t|do not|can you|could you|i want|i'd|i need|want|"
    r"without|except|but|rest|part where|bit where|whatever|everything|anything|nothing|only|just|"
    r"hear|listen|stand|hate|love|annoying|driving me|gone|disappear|go away|vanish|make|turn|let|give|have|"
    r"could|would|can|thanks|thank you|thx|asap|quick|cheers|pls|plz|free of|sans|minus|with no|no more)\b")
# a subject and verb inside the caption: a clause about the recording or the user ("the hum i mentioned")
_CLAUSE_IN_CAPTION = re.compile(r"\b(?:i|you|is|are|was|were)\b")
_TASK_WORD = re.compile(rf"\b(?:{_REMOVE}|{_EXTRACT}|don'?t|not|never|without|except|only|just|gone|disappear)\b")


def rules_unsure(text: str) -> str | None:
    """Why the rules' reading of ``text`` should not be trusted, or None when it looks sound.

    Two signs: no rule matched (the rules then read the whole instruction as a description,
    which is right for "birds chirping" and wrong for "Zap the buzzing" or "There's a hum. Kill
    it."), or the caption they return holds a clause boundary, a task word, a pronoun, framing, or
    a clause about the recording or the user."""
    try:
        parsed, rule = parse_rules_traced(text)
    except InstructionError:
        return None          # empty or names no sound: the rules' error is the answer
    s = _strip_openings(_normalise(text))
    if rule is None and _TASK_WORD.search(s):
        return "no rule matched, yet it holds a task word"
    if rule is None:
        return "no rule matched: a bare description, or a form the rules do not know"
    m = _UNSURE_IN_CAPTION.search(parsed.caption) or _CLAUSE_IN_CAPTION.search(parsed.caption)
    if m:
        return f"the caption holds {m.group(0)!r}"
    return None


# --- the optional LLM backend -------------------------------------------------------------------

FEW_SHOT_PROMPT = """You turn audio-editing instructions into JSON with two keys: "task" is "extraction" (keep the described sound) or "removal" (remove it), and "caption" is the description of the sound alone, in the instruction's own words.
Instruction: Could you help me separate the sound of a dog barking and the background music?
JSON: {"task": "extraction", "caption": "a dog barking and the background music"}
Instruction: please get rid of the loud traffic noise
JSON: {"task": "removal", "caption": "the loud traffic noise"}
Instruction: remove everything except the woman speaking
JSON: {"task": "extraction", "caption": "the woman speaking"}
Instruction: I don't want to hear the birds chirping in the background.
JSON: {"task": "removal", "caption": "the birds chirping in the background"}
Instruction: a piano playing a slow melody
JSON: {"task": "extraction", "caption": "a piano playing a slow melody"}
Instruction: {instruction}
JSON:"""


def validate_llm_output(output: str, instruction: str) -> Instruction | None:
    """The first JSON object in ``output`` as an Instruction, or None when it is not valid:
    not JSON, a task outside the two, an empty caption, or caption words the instruction never
    used (an LLM's paraphrase or invention)."""
    m = re.search(r"\{[^{}]*\}", output)
    if not m:
        return None
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    task, caption = obj.get("task"), obj.get("caption")
    if task not in TASKS or not isinstance(caption, str) or not caption.strip():
        return None
    caption = re.sub(r"\s+", " ", caption).strip().lower()
    words = set(re.findall(r"[\w']+", _normalise(instruction)))
    if not set(re.findall(r"[\w']+", caption)) <= words:
        return None
    return Instruction(task, caption)


class LLMInstructionParser:
    """Parse with a text generator (``prompt -> completion``), falling back to the rules.

    ``generate`` is any callable; :meth:`from_pretrained` builds one from a local
    ``transformers`` causal LM (no download: ``local_files_only``).
    """

    def __init__(self, generate: Callable[[str], str], prompt: str = FEW_SHOT_PROMPT):
        self.generate, self.prompt = generate, prompt
        self.fallbacks = 0

    @classmethod
    def from_pretrained(cls, path: str, max_new_tokens: int = 64, device: str = "cpu") -> "LLMInstructionParser":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(device).eval()

        def generate(prompt: str) -> str:
            import torch

            ids = tok(prompt, return_tensors="pt").to(device)
            with torch.no_grad():
                out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
            return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)

        return cls(generate)

    def __call__(self, text: str) -> Instruction:
        fallback = parse_rules(text)  # also validates the input
        try:
            out = self.generate(self.prompt.replace("{instruction}", text.strip()))
        except Exception:  # a backend that fails is no reason to fail the user's request
            out = ""
        parsed = validate_llm_output(out, text) if isinstance(out, str) else None
        if parsed is None:
            self.fallbacks += 1
            return fallback
        return parsed


def parse_instruction(text: str, parser: Callable[[str], Instruction] | None = None) -> Instruction:
    """Instruction text -> :class:`Instruction` (task, caption); rules unless ``parser`` is given.

    Raises :class:`InstructionError` for an empty or non-text instruction."""
    return (parser or parse_rules)(text)
