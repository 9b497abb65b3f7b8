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


class ReferenceOnlyError(InstructionError):
    """The rules found only a word that points at a sound ("it", "everything"), not the sound: a
    reading the learned parser may still get right (the hybrid asks it)."""


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
    "emphasise", "highlight", "split out", "play only", "play just", "play", "hear", "listen to", "save",
    "rescue", "salvage", "retain", "spare only", "hold on to", "hold onto", "hang on to", "hang onto", "zero in on",
    "home in on", "tease out", "fish out", "dig out", "lift out", "draw out", "spotlight", "need", "want",
    "gimme", "gimme only", "gimme just", "boost", "pluck out", "keep hold of", "carve out", "amplify", "bring up",
    "turn up", "listen only to", "solo out", "play me", "leave me with", "hand me", "hand me only", "hand me just",
], key=len, reverse=True)
_REMOVE_VERBS = sorted([
    "remove", "get rid of", "mute", "filter out", "filter", "take out", "take away", "cut out", "cut",
    "suppress", "silence", "drop", "erase", "delete", "eliminate", "kill", "block out", "block",
    "strip out", "strip", "cancel out", "cancel", "exclude", "discard", "subtract", "lose", "ditch",
    "turn off", "clean out", "clean up", "reduce", "denoise", "attenuate", "wipe out",
    "knock out", "edit out", "clear out", "omit", "leave out", "scrap", "yank", "nix", "axe", "banish",
    "weed out", "shave off", "boot", "toss", "scrub out", "scrub", "nuke", "trash", "junk", "excise",
    "expunge", "purge", "zap", "hush", "shush", "quieten", "tone down", "turn down", "dampen", "muffle",
    "squash", "chuck", "throw out", "throw away", "do away with", "shut off", "tune out", "wipe", "dispose of",
    "let go of", "bin", "fix", "gate out", "silence out", "hide", "shut up", "switch off", "dial down",
    "eradicate", "obliterate", "annihilate", "exterminate", "evict", "kick out", "oust", "expel", "wash out", "notch out", "chop out", "snip out", "clip out", "cull",
], key=len, reverse=True)
# verbs whose -ing form also names a sound ("chopping wood", "scrubbing a pan"): no gerund
_NO_GERUND = {"scrap", "yank", "nix", "axe", "banish", "boot", "toss", "dump", "scrub out", "scrub", "nuke", "trash",
              "junk", "zap", "hush", "shush", "squash", "chuck", "wipe", "bin", "fix", "chop out",
              "snip out", "clip out", "cull", "save", "rescue", "salvage", "need", "want", "spotlight", "gimme",
              "gimme only", "gimme just", "hand me", "hand me only", "hand me just", "evict", "oust", "expel", "throw out", "throw away", "excise", "expunge", "purge", "quieten",
              "dampen", "muffle", "tone down", "turn down", "dispose of", "let go of", "gate out", "notch out"}
_EVERYTHING = (r"(?:everything(?: else)?(?: in the mix)?|all of (?:it|the (?:other )?(?:sounds?|audio|noises?)|every other sound|"
               r"all the other sounds)|it all|all(?: (?:the )?(?:other )?(?:sounds?|audio|noises?|noise))?|anything|"
               r"every (?:other )?sound|all else|the rest(?: of (?:it|the (?:audio|sounds?|mix)))?|other sounds)")
_EXCEPT = (r"(?:except(?: for)?|but(?: for| not)?|other than|apart from|besides|save(?: for)?|aside from|excluding|minus|"
           r"leaving|that'?s not|that is not|that isn'?t|which isn'?t|which is not)")
# polite or conversational openings, removed repeatedly from the start
_OPENINGS = [
    r"please", r"pls", r"plz", r"kindly", r"hey", r"hi", r"hello", r"ok(?:ay)?", r"so", r"now", r"then",
    r"(?:would|do) you mind", r"(?:could|can|would|will) you(?: please)?(?: help me(?: to)?| try to)?", r"help me(?: to)?",
    r"i(?: would like|'d like| want| need) (?:you )?to", r"i(?: would|'d) love (?:you )?to",
    r"is it possible to", r"(?:is there a way|any way) to",
    r"go ahead and", r"try to", r"let'?s", r"we need to", r"you should", r"just", r"simply",
    r"quickly", r"i need", r"i want", r"(?:could|can|would|will) u(?: please| pls)?",
    r"(?:would it be|is it) possible to", r"is there any way to", r"any chance (?:you|u) could", r"do you think you could",
    r"i was wondering if you could", r"(?:i'd|i would) appreciate it if you could", r"if you could",
    r"for the love of (?:god|all that is holy)", r"yo", r"bruh", r"ngl", r"fwiw", r"tbh", r"honestly", r"lowkey",
    r"um+", r"uh+", r"alright", r"well", r"oh", r"also", r"and",
    r"quick (?:one|question|request|favou?r)", r"how (?:do|can|would|could) (?:i|we)", r"can'?t you", r"won'?t you",
    r"asap", r"real quick", r"(?:i'?m|i am) (?:trying|hoping|looking|wanting|planning) to", r"(?:my|the) goal is to",
    r"the idea is to", r"i'?d be grateful if you could", r"(?:would|could) you be able to", r"are you able to",
    r"be able to", r"(?:i )?wanna", r"(?:i'?m )?gonna", r"i'?d like to be able to",
    r"isn'?t there (?:a|any) way to", r"is there (?:a|any) way (?:i|we) (?:can|could)",
]
_OPENING_RE = re.compile(r"^(?:" + "|".join(_OPENINGS) + r")\b[\s,!.:;]*")
# framing at the start of the description
_LEAD_FRAMING = re.compile(
    r"^(?:(?:the|any|all(?: of)? the|all) )?(?:sounds?|noises?|audio|recording) (?:of|from|made by) (?=\w)"
    r"|^(?:the |any )?(?:sounds?|noises?) (?=of\b)"
    r"|^(?:whatever|the thing|whatever thing|the one)(?: that)?(?: is|'s)? (?:making|causing|producing) (?=\w)"
    r"|^the (?:part|bit|section|moment|stretch|passage)s? (?:where|when|with) (?=\w)")
# framing at the end of the description (the mix, politeness, a second clause about the rest)
_TRAIL_FRAMING = re.compile(
    r"(?:[\s,]+(?:"
    r"(?:from|out of|in|within|off|on) (?:the|this|that|my|our|your|given) (?:\w+ )?(?:mix(?:ture)?|recording|audio(?: clip| file| track)?|clip|track|file|sound ?track|song|input|signal|sample|tape|video|soundscape|scene|excerpt|snippet|mixdown)"
    r"|(?:from|out of) (?:it|this|that|here)|from the background(?: noise| music| sounds?)?|in there|at all|anymore|any more"
    r"|from (?:the rest(?: of (?:the |this |my )?\w+)?|everything else(?: in (?:the |this |my )?\w+)?|all the other (?:sounds?|noises?|instruments?)"
    r"|the other (?:sounds?|noises?|instruments?)|the accompaniment|the noise)"
    r"|please|thanks|thank you|thanks so much|thank you so much|for me|if (?:you )?(?:can|could|possible)"
    r"|if that'?s (?:possible|doable|ok(?:ay)?)|right now|now|asap|real quick|entirely|completely|im begging|lol|ty|thx|instead"
    r"|(?:and|,)? ?(?:drop|remove|discard|mute|lose|get rid of|filter out|cut|suppress|silence) (?:everything|all) (?:else|the rest|other sounds)"
    r"|(?:and|,)? ?(?:keep|leave|preserve) (?:the rest|everything else|all else|the others?|the other sounds)"
    r"|(?:and|,)? ?(?:nothing|no) else(?: with (?:it|them))?|only|(?:all )?alone|(?:all )?by itself|(?:all )?by themselves|(?:all )?on (?:its|their) own|in isolation"
    r"|(?:and|,)? ?(?:everything|all) else (?:can|should|must|may) go|(?:and|,)? ?the rest (?:can|should|must|may) go"
    r"|(?:and|,)? ?no other sounds?|onto (?:its|their|a) own track|as (?:a|its own) (?:stem|track|file)"
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
    forms = sorted({f for w in words for f in ((w,) if w in _NO_GERUND else (w, _gerund(w)))}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w) for w in forms) + ")"


def _alt_base(words: list[str]) -> str:
    """The verbs' base forms only (an imperative: "... and snip out the rest")."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


_EXTRACT = _alt(_EXTRACT_VERBS)
_REMOVE = _alt(_REMOVE_VERBS)
_ONLY = r"(?:only|just|solely|exclusively)"

# (pattern, task): the first to match wins; group "c" is the description.
_SOUND_DET = r"(?:the|a|an|any|those|that|these|this|my|our|his|her|their|some)"
_ANY = r"(?:anything|any other sounds?|any sounds?|everything|any of the other sounds|any other noises?)"
_NONE = r"(?:nothing|no other sounds?|no sounds?|no other noises?)"
_GO = (r"(?:go|be removed|be dropped|be deleted|be muted|be cut|be gone|disappear|vanish|get lost|be binned|be scrapped|"
       r"be discarded|be taken out|be silenced|be tossed)")
_STAY = r"(?:stay|remain|be kept|stay in|stay put|be left alone|be left|be preserved|survive|be left in)"
_MODAL = r"(?:can|should|must|has to|have to|needs to|need to|may|will|is to|are to|ought to)"
# the whole recording, as in "the song without the drums" (the drums go)
_WHOLE = (r"(?:(?:the|this|that|my|our|your|the whole|this whole|the entire|the full|the video'?s?|the same) )?(?:[\w'-]+ )?"
          r"(?:song|track|recording|clip|audio|video|podcast|mix|file|interview|soundtrack|music|tape|take|stream|sample|"
          r"beat|instrumental|episode|lecture|memo|voice memo|thing|footage|film|movie|show|broadcast|session)")
_LABEL_KEY = r"(?:label|action|task|mode|op(?:eration)?|intent|todo|to do)"
_LABEL_WHAT = r"(?:sound|source|target|what|caption|object|query|audio|item|description|noise|thing)"

# (pattern, task): the first to match wins; group "c" is the description.
_RULES: list[tuple[re.Pattern, Task]] = [(re.compile(p), t) for p, t in [
    (r"^(?:what does|how does|what would|how would) (?P<c>.+?) sound(?: like)?(?: alone| by itself| isolated| solo"
     r"| on (?:its|their) own| with nothing else| without everything else| without anything else)?$", "extraction"),
    # inversions stated by what may go or stay ("all but X can go" keeps X)
    (rf"^(?:{_EVERYTHING}|anything)(?: else)?,? {_EXCEPT} (?P<c>.+?),? {_MODAL} {_GO}$", "extraction"),
    (rf"^(?:{_EVERYTHING}|anything)(?: else)?,? {_EXCEPT} (?P<c>.+?),? {_MODAL} {_STAY}$", "removal"),
    (rf"^(?:{_EVERYTHING}|anything)(?: else)? {_MODAL} {_STAY},? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^(?:{_EVERYTHING}|anything)(?: else)? {_MODAL} {_GO},? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (rf"^(?:{_EVERYTHING}|anything) (?:that|which) (?:isn'?t|is not|'s not) (?P<c>.+?),? {_MODAL} {_GO}$", "extraction"),
    # inversions through negation ("I don't want anything except X" keeps X)
    (rf"^i (?:do not|don'?t|never) (?:want|wish|need|like)(?: to hear| to keep)? {_ANY}(?: else)?,? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (rf"^(?:i )?(?:want|need|would like|'d like)(?: to hear| to keep)? {_NONE}(?: else| left| remaining)?,? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (rf"^{_NONE}(?: else| left)?,? (?:{_EXCEPT}|but) (?P<c>.+)$", "extraction"),
    (rf"^(?:{_EXTRACT}|leave|retain) {_NONE}(?: else| in)?,? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (rf"^(?:{_REMOVE}) {_NONE}(?: else)?,? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^(?:do not|don'?t|not|never) (?:{_REMOVE}) {_ANY}(?: else)?,? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^(?:do not|don'?t|never) (?:keep|leave|preserve|retain) {_ANY}(?: in| else)?,? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (r"^what i (?:do not|don'?t) (?:want|need|like)(?: to hear)? (?:is|are) (?P<c>.+)$", "removal"),
    (r"^what i (?:want|need|'d like)(?: to hear| to keep)? (?:is|are) (?P<c>.+)$", "extraction"),
    (rf"^not (?:{_SOUND_DET} )?[^,;.]+?[,;.] (?:just|only|but|i want|give me|keep) (?P<c>.+)$", "extraction"),
    # a whole recording without a part: the part goes ("the song without the drums")
    (rf"^(?:give me |play me |play |keep |leave |make me |make |can i get |can i have |could i have |let me hear |i want |"
     rf"i need |i'd like |just |can you give me |could you give me |i'?d prefer |i would prefer |i prefer )?(?:a version of |a copy of |an edit of )?"
     rf"(?:everything(?: in (?:the|this) \w+)?|{_WHOLE})(?: back| as is| as it is| the same| intact)?,? (?:but )?"
     rf"(?:without|minus|with no|sans|free of|stripped of|less) (?P<c>.+)$", "removal"),
    # labels: "Action = extract; source = X", "X -> remove"
    (rf"^{_LABEL_KEY}\s*[:=]\s*(?:{_REMOVE}|removal)\s*[|;,./]?\s*{_LABEL_WHAT}\s*[:=]\s*(?P<c>.+)$", "removal"),
    (rf"^{_LABEL_KEY}\s*[:=]\s*(?:{_EXTRACT}|extraction)\s*[|;,./]?\s*{_LABEL_WHAT}\s*[:=]\s*(?P<c>.+)$", "extraction"),
    (rf"^(?P<c>[^:=>|]+?)\s*(?:->|=>|[:=\-–|])\s*(?:{_REMOVE}|removal)$", "removal"),
    (rf"^(?P<c>[^:=>|]+?)\s*(?:->|=>|[:=\-–|])\s*(?:{_EXTRACT}|extraction)$", "extraction"),
    # "don't remove A; take out B instead": the asked-for action is on B
    (rf"^(?:do not|don'?t|never) (?:{_EXTRACT}|{_REMOVE}) [^;,—–]+[;,—–]+ (?:please )?(?:just |only )?(?:{_REMOVE}) "
     rf"(?!{_EVERYTHING}\b)(?P<c>.+)$", "removal"),
    (rf"^(?:do not|don'?t|never) (?:{_EXTRACT}|{_REMOVE}) [^;,—–]+[;,—–]+ (?:please )?(?:just |only )?(?:{_EXTRACT}) "
     rf"(?!{_EVERYTHING}\b)(?P<c>.+)$", "extraction"),
    (rf"^(?:(?:do not|don'?t|never) (?:{_EXTRACT}|{_REMOVE})|it'?s not|it is not|it isn'?t) [^;,—–]+[;,—–]+ (?:it'?s|but) (?P<c>.+?) "
     r"(?:that )?(?:i|we) (?:want|need) (?:removed|gone|out|taken out|deleted|muted|cut)$", "removal"),
    (r"^it(?:'s not| is not| isn'?t) .+? (?:i|we) (?:want|need) (?:removed|gone|out|taken out|deleted|muted|cut)[,;—–]+ "
     r"(?:it'?s|but) (?P<c>.+)$", "removal"),
    (r"^it(?:'s not| is not| isn'?t) .+? (?:i'?m|i am|we'?re) after[,;—–]+ (?:it'?s|but) (?P<c>.+)$", "extraction"),
    (rf"^.+? by (?:{_REMOVE}) (?P<c>.+)$", "removal"),
    (r"^i(?:'m| am)? (?:only |just |really only |mostly |really )?(?:after|interested in|care about|want to hear|need to hear|"
     r"want to keep|wanna hear|want|need) (?P<c>.+)$", "extraction"),
    (r"^(?:all|the only thing|the one thing) (?:i|we) (?:want|need|care about|'m after|am after|'re after)(?: to hear| to keep)?"
     r" (?:is|are) (?P<c>.+)$", "extraction"),
    (r"^(?:do not|don'?t|never) leave (?P<c>.+?) in(?: there| the (?:mix|recording|track))?$", "removal"),
    (r"^(?:can|could|would|will) (?P<c>.+?) be (?:removed|taken out|cut out|muted|deleted|erased|filtered out|eliminated|"
     r"silenced|suppressed|gotten rid of)$", "removal"),
    (r"^(?:can|could|would|will) (?P<c>.+?) be (?:isolated|extracted|separated(?: out)?|singled out|pulled out|kept)$", "extraction"),
    (r"^(?:strip|cut|reduce|boil|bring|pare|trim) (?:it|this|the (?:track|mix|recording|clip|audio|song)|everything) "
     r"down to (?:just |only )?(?P<c>.+)$", "extraction"),
    (r"^make (?:it so )?(?:that )?(?:only |just )?(?P<c>.+?) (?:is|are) (?:the only (?:thing|sound)s?|all (?:that'?s|that is) left|"
     r"audible|left)$", "extraction"),
    (r"^make it so (?:i|we|you|nobody|no one) (?:can'?t|cannot|can not|won'?t|don'?t) hear (?P<c>.+)$", "removal"),
    (r"^make (?P<c>.+?) the only (?:thing|sound)(?: (?:left|remaining|i hear|you hear))?$", "extraction"),
    (r"^[^,;.]+? (?:stays|can stay|remains|should stay|is fine)[,;.]? (?:but |and )?(?P<c>.+?) (?:goes|has to go|must go|can go|"
     r"is out|should go|needs to go)$", "removal"),
    (r"^(?P<c>[^,;.]+?) (?:goes|has to go|must go|can go|is out|should go|needs to go)[,;.]? (?:but |and )?(?!.*\bonly\b).+? (?:stays|can stay|"
     r"remains|should stay|is fine)$", "removal"),
    (r"^(?:pull|pick|take|get|cut|yank) (?!out\b)(?P<c>.+?) out(?: of .+?)?,? (?:and )?(?:leave|keep) (?:the rest|everything else|"
     r"all else|the others)$", "removal"),
    # "keep A, but lose B": the explicit removal of B (the rest of the recording, A included, stays)
    (rf"^(?:keep|leave|preserve|retain) (?!only\b|just\b|hold of\b)[^,;]+?"
     rf"(?:,? but|,? and|[,;]) (?:please )?(?:just )?(?:{_REMOVE}) (?!(?:out |off |away )?(?:{_EVERYTHING}|it|them)$)(?P<c>.+)$",
     "removal"),
    # a stem or version of only the sound
    (r"^(?:make|give|bounce|export|render|create|produce|pull)(?: me)? (?:a|an) (?:separate |isolated |clean )?"
     r"(?:stem|track|version|file|clip|copy|export|recording|sample|loop) (?:of|with) (?:only |just )?(?P<c>.+)$", "extraction"),
    (rf"^solo (?=(?:{_SOUND_DET})\b)(?P<c>.+)$", "extraction"),
    (r"^let (?P<c>.+?) through$", "extraction"),
    (r"^(?:separate|isolate|split|extract|distinguish|tease apart|pick out|pull out|single out)(?: out)? (?P<c>.+?) from "
     r"(?:the |all |any )?(?:music|instruments?|band|crowd|accompaniment|backing track|beat|drums|other \w+|noise|"
     r"background noise|ambience|ambient noise)$", "extraction"),
    # inversions
    (rf"^(?:{_REMOVE}|get rid of) {_EVERYTHING},? {_EXCEPT} (?P<c>.+)$", "extraction"),
    (rf"^(?:{_REMOVE}) (?:everything|all) (?:that is|that's) not (?P<c>.+)$", "extraction"),
    (rf"^(?:keep|leave|preserve|retain|give me|let me hear|play|extract|hear|listen to) {_EVERYTHING},? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^{_EVERYTHING},? {_EXCEPT} (?P<c>.+)$", "removal"),
    (rf"^(?:do not|don'?t|never) (?:{_REMOVE}) (?P<c>.+)$", "extraction"),
    (r"^(?:do not|don'?t|never) (?:keep|extract|isolate|include) (?P<c>.+)$", "removal"),
    # wishes
    (r"^i (?:do not|don'?t|never) (?:want|wish|need|like) to hear (?:any(?:thing of)? )?(?P<c>.+)$", "removal"),
    (r"^i (?:do not|don'?t) (?:want|need|like) (?P<c>.+)$", "removal"),
    (r"^(?:i(?: would|'d)? )?(?:rather|prefer to) not hear (?P<c>.+)$", "removal"),
    (r"^(?:without|no more|no|minus|less) (?P<c>.+)$", "removal"),
    (r"^(?P<c>.+?) (?:has to|must|should|needs to|have to) (?:go|be removed|be gone|disappear)$", "removal"),
    (r"^(?:make |have |get |i'?d like |i would like |i want |i need |can i get |could i have |can i have |i'?d love )?(?P<c>.+?) (?:removed|gone|muted|taken out|filtered out|silenced|erased|deleted|eliminated|suppressed|cut out)$", "removal"),
    (r"^(?:make |have |get |i'?d like |i would like |i want |i need |can i get |could i have |can i have |i'?d love )?(?P<c>.+?) (?:isolated|extracted|separated|singled out)$", "extraction"),
    (rf"^(?:i )?(?:{_ONLY} )?(?:want|wish|need|would like|'d like) to (?:{_ONLY} )?hear (?:{_ONLY} )?(?P<c>.+)$", "extraction"),
    (rf"^i(?:'d like| (?:{_ONLY} )?(?:want|need|would like)) (?:{_ONLY} )?(?P<c>.+)$", "extraction"),
    # a particle after the object: "take the hum out", "pull the violin out of the mix"
    (r"^(?:take|cut|filter|leave|strip|edit|knock|block|get|keep|boot|yank|kick|throw|chuck|toss|scrub|weed) "
     r"(?!out\b|away\b|rid of\b)(?P<c>.+?) (?:out|outta)(?: of .+)?$", "removal"),
    (r"^(?:pull|pick|bring|single|separate|sort|tease) (?!out\b)(?P<c>.+?) out(?: of .+)?$", "extraction"),
    # labels: "Remove: X", "extraction - X"
    (rf"^(?:{_REMOVE}|removal|remove task)\s*(?:->|=>|[:=\-–])\s*(?P<c>.+)$", "removal"),
    (rf"^(?:{_EXTRACT}|extraction|extract task|target|query)\s*(?:->|=>|[:=\-–])\s*(?P<c>.+)$", "extraction"),
    # verbs
    (rf"^(?:{_ONLY} )?(?:{_REMOVE})(?: {_ONLY})? (?P<c>.+)$", "removal"),
    (rf"^(?:{_ONLY} )?(?:{_EXTRACT})(?: {_ONLY})? (?P<c>.+)$", "extraction"),
    (rf"^(?:{_ONLY}) (?P<c>.+)$", "extraction"),
]]
# a second clause that starts over with another verb ("keep the piano but remove the drums")
_SECOND_CLAUSE = re.compile(rf"(?:(?:,? (?:but|and then|then|and also|also|while you'?re at it)|[;,]) (?:please )?"
                            rf"(?:{_REMOVE}|{_EXTRACT}|make|turn|leave)"
                            rf"| and (?:please )?(?:{_alt_base(_REMOVE_VERBS)}|{_alt_base(_EXTRACT_VERBS)}))\b.*$")

# Words after the sound that place it in the file or the user's project, or comment on it, rather than
# describe it: cut from there to the end ("the clapping at the end of the clip", "the hum that ruined
# my wedding video", "the beeping, it drives me nuts"). A bare "at the end" stays: it can describe the
# sound ("the applause at the end").
_PROJECT_NOUNS = (r"(?:recording|video|podcast|episode|audiobook|lecture|voicemail|voice ?memo|call|beat|mix|mixdown|"
                  r"version|take|clip|track|song|file|interview|meeting|memo|tutorial|vlog|stream|livestream|footage|"
                  r"film|session|demo|audio|project|upload|edit|cut|master|sample|soundtrack|broadcast|show|"
                  r"documentary|movie|reel|tape|wav|mp3|export|jam|rehearsal|gig|set|performance|voiceover)s?")
_NOT_THE_SOUND = re.compile(
    r"(?:,?\s+(?:right |just |somewhere |sometime |about |roughly )?"
    r"(?:(?:at|around|near|towards?|in|from|after|before|until|till|by|during) (?:the )?(?:very )?"
    r"(?:start|beginning|middle|halfway point|end of (?:the|this|that|my|our) \w+|(?:\d+|one|two|three|four|five|ten)"
    r"[ -]minute mark|\d+:\d+|(?:first|second|last|final) (?:half|third|minute|part|few seconds|bit|section)"
    r"|intro|outro)\b"
    r"|near the end|towards? the end|halfway through|(?:at|around) \d+:\d+"
    r"|(?:that |which )?(?:starts|started|comes in|came in|kicks in|begins|appears|shows up|pops up)\b"
    r"|(?:from|in|on|during|out of|outta|off|into|throughout|for|across) (?:my|this|our|your|the|that|his|her|their|"
    r"yesterday's|today's|last night's|tonight's|the whole|this whole|my whole) (?:[\w'-]+ ){0,2}" + _PROJECT_NOUNS + r"\b"
    r"|(?:for|from|on|during) (?:my|our) (?:[\w'-]+ ){0,3}(?:trip|channel|rip|vacation|holiday|wedding|party|class|course|"
    r"thesis|project|library|collection|album|ep|single|shoot|game|app|website|presentation|assignment)s?\b"
    r"|(?:from|in|on) (?:this|that|the|my|our) (?:old |new )?(?:vinyl )?rip\b"
    r"|through(?:out)? (?:the|this|my) (?:whole |entire )?(?:recording|clip|track|song|video|file|podcast|thing)\b"
    r"|(?:that |which |who )?(?:i|we|you|my \w+)(?:'ve|'d)? (?:\w+ )?(?:picked up|recorded|shot|made|took|captured|"
    r"filmed|left|sent|mentioned|told you about|got|can hear|can still hear|hear|heard|hate|love|want|need|cannot|"
    r"can't|keep hearing)\b"
    r"|(?:that|which|who) (?:ruined|ruins|got into|gets into|keeps ruining|drives|is driving|makes|made|spoiled|"
    r"spoils|messed up|messes up|wrecked|wrecks|bugs|annoys|is ruining|ruin)\b"
    r"|,? so (?:that )?(?:i|you|we|they|it|people|everyone|the \w+) (?:can|could|will|won'?t|don'?t|do not)\b"
    r")|, (?:which|it|they|this|that)(?:'s|'re| is| are| was| drives| keeps| ruins| makes| really| totally| just)\b"
    r"|\s+(?:\d+ (?:seconds?|secs?|minutes?|mins?) in)\b).*$")

# "... and bin the rest", ", let go of everything else": what happens to the rest, not the sound
_REST_CLAUSE = re.compile(rf"(?:,? and|,|;)? (?:then |just )?(?:{_REMOVE}|block|lose|toss|bin|dump) (?:(?:all|every) (?:of )?"
                          r"(?:the )?(?:other|remaining) (?:sounds?|noises?|stuff)|everything else|all else|the rest(?: of it)?"
                          r"|everything|all the rest|the others|whatever else)$")

# "the vocals but not the backing vocals", "the guitar without the amp buzz", "the rapper, no beat": the
# sound asked for is the first (a whole recording without a part is a removal, matched by a rule first)
_BUT_NOT = re.compile(r"(?:,? but not|, not|,? and not|,? but without| without(?: any(?: of)?)?|, no|, minus|, with no) "
                      r"(?:(?:the|a|an|any|those|that|these|this|my|our|his|her|their|some) )?\S.*$")

_BARE_VERB = re.compile(rf"^(?:{_REMOVE}|{_EXTRACT}|removal|extraction)(?: (?:it|this|that|them|something|the sound|sounds?|audio))?$")
_NO_SOUND = {"it", "this", "that", "them", "something", "everything", "all", "the sound", "sound", "sounds", "audio"}


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces (lengths of words are kept, so a span found in
    the normalised text is the instruction's own words)."""
    s = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", s).strip().lower()


def _normalise(text: str) -> str:
    s = _START_PUNCT.sub("", normalise(text))
    return _END_PUNCT.sub("", s)


# politeness and urgency at the end, stripped before the rules so that "X silenced real quick" reads as X silenced
_CLOSING_RE = re.compile(r"(?:[\s,.!]+(?:please|pls|plz|thanks(?: so much| in advance)?|thank you(?: so much)?|thx|ty|cheers|"
                         r"asap|real quick|right now|if you can|if possible|if that'?s (?:possible|doable|ok(?:ay)?)|"
                         r"lol|:\)|im begging|would be great)[\s.!?]*)+$")


def _strip_closings(s: str) -> str:
    t = _CLOSING_RE.sub("", s)
    return t if t else s


def _strip_openings(s: str) -> str:
    while True:
        t = _OPENING_RE.sub("", s, count=1)
        if t == s or not t:
            return t
        s = t


def _clean_caption(c: str) -> str:
    c = _END_PUNCT.sub("", c.strip())
    c = _SECOND_CLAUSE.sub("", c)
    c = _NOT_THE_SOUND.sub("", c)
    c = _BUT_NOT.sub("", c)
    c = _REST_CLAUSE.sub("", c)
    c = re.sub(r"(?<!\bthe)(?<!\bmy)\s+(?:to be |that is |that's )?(?:left(?: over)?|remaining)$", "", c)
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


_SENTENCE_BREAK = re.compile(r"\w[.?!]+\s+\w")
# a caption that only points at a sound named elsewhere ("them out", "that sound", "it removed")
_REFERENCE = re.compile(r"^(?:it|them|him|her|this|that|these|those|the sound|the noise|this one|that one)"
                        r"(?: (?:sound|noise|one|part|bit|thing|stuff))?"
                        r"(?: (?:out|removed|gone|off|away|isolated|alone|too|please|again|instead|for me))*$")


def _one_sure_sentence(text: str) -> tuple[Instruction, int] | None:
    """In a message of several sentences, the one sentence the rules read surely with a rule, when
    no other sentence holds a task word ("Can the snoring be removed? My husband snores all night.");
    None otherwise (the pronoun forms, "There's a hum. Kill it.", are the learned parser's)."""
    sentences = [x for x in re.split(r"(?<=[.?!])\s+", _normalise(text)) if x.strip()]
    sure, others = [], []
    for sentence in sentences:
        try:
            traced = parse_rules_traced(sentence)
        except InstructionError:
            others.append(sentence)
            continue
        if traced[1] is not None and rules_unsure(sentence, traced) is None and not _REFERENCE.match(traced[0].caption):
            sure.append(traced)
        else:
            others.append(sentence)
    if len(sure) != 1 or any(_TASK_WORD.search(_strip_openings(o)) for o in others):
        return None
    return sure[0][0], sure[0][1]


def check_instruction(text: object) -> str:
    """The instruction normalised, without its openings and closings; an :class:`InstructionError`
    when it is not text, empty, or only a task verb ("remove it")."""
    if not isinstance(text, str):
        raise InstructionError(f"an instruction must be text, got {type(text).__name__}")
    s = _strip_closings(_strip_openings(_normalise(text)))
    if not s:
        raise InstructionError("the instruction is empty")
    if _BARE_VERB.match(s):
        raise InstructionError(f"the instruction names no sound: {text!r}")
    return s


def parse_rules_traced(text: str) -> tuple[Instruction, int | None]:
    """:func:`parse_rules`, and the index in ``_RULES`` of the rule that matched (None: no rule
    matched, the whole instruction was read as a description of the sound)."""
    s = check_instruction(text)
    if _SENTENCE_BREAK.search(s):
        one = _one_sure_sentence(text)
        if one is not None:
            return one
    pronoun = None   # a rule whose caption is only a pronoun; a later rule may read the sentence better
    for index, (pattern, task) in enumerate(_RULES):
        m = pattern.match(s)
        if m:
            caption = _clean_caption(m.group("c"))
            if caption in _NO_SOUND:
                pronoun = pronoun or caption
            elif caption:
                return Instruction(task, caption), index
    if pronoun is not None:
        raise ReferenceOnlyError(f"the instruction names no sound ({pronoun!r} refers to nothing): {text!r}")
    caption = _clean_caption(s)  # a bare description asks for that sound
    if not caption:
        raise InstructionError(f"the instruction names no sound: {text!r}")
    return Instruction("extraction", caption), None


# What the rules were not written for. A caption holding any of these is likely a misread: a
# second sentence or clause, a task verb, a pronoun standing for the sound, framing words.
_UNSURE_IN_CAPTION = re.compile(
    r"[.;?!:—–]|\s-\s|\b(?:it|them|this one|that one)$"
    r"|\b(?:apart from|aside from|other than|besides|excluding|that'?s not|all of it|it all|other sounds?|all the noise)\b"
    r"|\b(?:remove|removing|extract|isolate|mute|delete|erase|eliminate|get rid|filter|take|keep|keeping|separate|"
    r"suppress|silence|kill|lose|ditch|drop|cut|please|don'?t|do not|can you|could you|i want|i'd|i need|want|"
    r"without|except|but|rest|part where|bit where|whatever|everything|anything|nothing|only|just|"
    r"hear|listen|stand|hate|love|annoying|driving me|gone|disappear|go away|vanish|make|turn|let|give|have|"
    r"could|would|can|thanks|thank you|thx|asap|quick|cheers|pls|plz|free of|sans|minus|with no|no more)\b")
# a subject and verb inside the caption: a clause about the recording or the user ("the hum i mentioned")
_CLAUSE_IN_CAPTION = re.compile(r"\b(?:i|you|is|are|was|were)\b")
_TASK_WORD = re.compile(rf"\b(?:{_REMOVE}|{_EXTRACT}|don'?t|not|never|without|except|only|just|gone|disappear)\b")


def rules_unsure(text: str, traced: tuple[Instruction, int | None] | None = None) -> str | None:
    """Why the rules' reading of ``text`` should not be trusted, or None when it looks sound.

    Two signs: no rule matched (the rules then read the whole instruction as a description,
    which is right for "birds chirping" and wrong for "Zap the buzzing" or "There's a hum. Kill
    it."), or the caption they return holds a clause boundary, a task word, a pronoun, framing, or
    a clause about the recording or the user. ``traced`` is :func:`parse_rules_traced`'s answer for
    ``text`` when the caller has it already."""
    try:
        parsed, rule = traced if traced is not None else parse_rules_traced(text)
    except InstructionError:
        return None          # empty or names no sound: the rules' error is the answer
    s = _strip_closings(_strip_openings(_normalise(text)))
    if (rule is None and _BUT_NOT.search(s) and not _TASK_WORD.search(parsed.caption)
            and not _UNSURE_IN_CAPTION.search(parsed.caption) and not _CLAUSE_IN_CAPTION.search(parsed.caption)):
        return None          # "the waves but not the seagulls": a description of what is wanted, and what is not
    if rule is None and _TASK_WORD.search(s):
        return "no rule matched, yet it holds a task word"
    if rule is None:
        return "no rule matched: a bare description, or a form the rules do not know"
    if _SENTENCE_BREAK.search(s):
        return None if _one_sure_sentence(text) is not None else "more than one sentence"
    if _REFERENCE.match(parsed.caption):
        return f"the caption {parsed.caption!r} points at a sound named elsewhere"
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
