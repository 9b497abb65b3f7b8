"""Training instructions for the learned parser: many forms, each with its task and caption span.

The rule parser (:mod:`hsm_lib.text.instructions`) knows the forms its author thought of. The
learned parser (:mod:`hsm_lib.text.learned_parser`) is trained on what this module writes
instead: captions of sounds (the corpus's own event vocabulary from
:mod:`hsm_lib.data.taxonomy`, and a wider list of everyday sound sources) wrapped in many
phrasings of both tasks:

- direct verbs, polite openings, questions, labels ("Removal: ...");
- inversions ("mute everything except X" keeps X) and negations ("don't keep X");
- the sound named in one sentence and the action in another, by pronoun ("there's X in the
  background. get rid of it");
- idioms of keeping and dropping ("I can't stand X", "nothing but X", "solo X");
- qualifiers that frame rather than describe ("from the rest of the song", "the part where X",
  "whatever is making X", "in this clip"), and sentences around the request;
- "A without B": the whole recording without B removes B; a sound A without B keeps A;
- a sentence about the sound, then the request ("X is way out of time. can you take it out?"),
  relative clauses about the recording rather than the sound ("the hum that ruins the whole
  recording"), negated inversions ("I don't want anything except X") and task labels;
- words after the sound that place it in the file or the user's project, or comment on it, and are
  not part of its description ("at 0:45", "near the end", "from my podcast episode", ", it drives
  me nuts"), beside post-modifiers that are ("on the tree", "in the field");
- idiomatic verbs (scrap, bin, yank, nix, hang on to, zero in on), what happens to the rest in
  another verb ("keep X and bin the rest"), inversions stated by what may go or stay ("all but X
  can go"), "A but not B" and "A, no B" (A is kept), copulas and context sentences before the
  request ("X is gorgeous. I want it by itself"), questions and goals ("can X be removed?").

Every example records where its caption lies in the normalised instruction, so the parser can
be trained to point at it. Nothing here reads the evaluation tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

EXTRACTION, REMOVAL = "extraction", "removal"


@dataclass(frozen=True)
class GeneratedInstruction:
    """One training example: the instruction as typed, and its answer.

    ``span`` is the caption's [start, end) character range in ``normalised(text)``."""

    text: str
    task: str
    caption: str
    span: tuple[int, int]


# --- captions -------------------------------------------------------------------------------------

# everyday sound sources beyond the corpus's taxonomy: (noun phrase without article, gerund or "")
EVERYDAY = [
    ("lawnmower", "running"), ("vacuum cleaner", "humming"), ("air conditioner", "humming"), ("fan", "whirring"),
    ("fridge", "buzzing"), ("washing machine", "spinning"), ("helicopter", "flying overhead"), ("airplane", "passing"),
    ("train", "rumbling by"), ("truck", "reversing"), ("motorcycle", "revving"), ("bus", "idling"), ("car horn", "honking"),
    ("siren", "wailing"), ("ambulance", "passing"), ("fire alarm", "going off"), ("smoke detector", "chirping"),
    ("alarm clock", "ringing"), ("phone", "ringing"), ("doorbell", "ringing"), ("door", "slamming"),
    ("keyboard", "clacking"), ("clock", "ticking"), ("baby", "crying"), ("kids", "shouting"), ("crowd", "cheering"),
    ("audience", "clapping"), ("man", "coughing"), ("woman", "sneezing"), ("old man", "snoring"), ("boy", "whistling"),
    ("girl", "humming"), ("choir", "singing"), ("singer", "belting"), ("guitar", "strumming"), ("electric guitar", "wailing"),
    ("bass", "thumping"), ("drums", "pounding"), ("kick drum", ""), ("snare", ""), ("hi-hat", ""), ("cymbals", "crashing"),
    ("piano", "playing"), ("violin", "playing"), ("cello", ""), ("saxophone", "solo"), ("trumpet", "blaring"),
    ("flute", "playing"), ("harmonica", ""), ("accordion", ""), ("organ", "droning"), ("synth pad", ""), ("banjo", ""),
    ("ukulele", "strumming"), ("harp", ""), ("bagpipes", "droning"), ("tambourine", "jingling"), ("birds", "chirping"),
    ("crows", "cawing"), ("seagulls", "screeching"), ("rooster", "crowing"), ("cow", "mooing"), ("sheep", "bleating"),
    ("horse", "neighing"), ("cat", "meowing"), ("dog", "howling"), ("frogs", "croaking"), ("crickets", "chirping"),
    ("bees", "buzzing"), ("mosquito", "whining"), ("thunder", "rumbling"), ("rain", "pattering"), ("wind", "howling"),
    ("waves", "crashing"), ("stream", "babbling"), ("fire", "crackling"), ("jackhammer", "pounding"), ("drill", "whining"),
    ("hammer", "banging"), ("chainsaw", "buzzing"), ("leaf blower", "roaring"), ("church bells", "ringing"),
    ("wind chimes", "tinkling"), ("dishes", "clattering"), ("microwave", "beeping"), ("kettle", "whistling"),
    ("water", "running"), ("toilet", "flushing"), ("hair dryer", "blowing"), ("blender", "whirring"), ("static", ""),
    ("hiss", ""), ("hum", ""), ("buzz", ""), ("feedback", "squealing"), ("clicking", ""), ("crackle", ""), ("radio", "playing"),
    ("tv", "blaring"), ("announcer", "talking"), ("narrator", "speaking"), ("podcast host", "talking"), ("guy", "yelling"),
    ("lady", "laughing"), ("teacher", "lecturing"), ("audience", "laughing"), ("gunshots", ""), ("fireworks", "popping"),
    ("engine", "idling"), ("tires", "screeching"), ("brakes", "squealing"), ("bicycle bell", "ringing"), ("typewriter", ""),
    ("traffic", ""), ("construction noise", ""), ("background chatter", ""), ("people", "talking"), ("neighbours", "arguing"),
    ("printer", "whirring"), ("elevator", "dinging"), ("car alarm", "blaring"), ("footsteps", "echoing"), ("heavy breathing", ""),
    ("vocals", ""), ("lead vocals", ""), ("backing vocals", ""), ("drum beat", ""), ("bassline", ""), ("melody", ""),
    ("beeping", ""), ("ringtone", ""), ("notification sounds", ""), ("mic bumps", ""), ("wind noise", ""), ("rumble", ""),
]
ADJECTIVES = ["loud", "quiet", "distant", "faint", "high-pitched", "low", "constant", "annoying", "deep", "soft", "sharp",
              "muffled", "repetitive", "little", "big", "old", "nearby", "steady", "rhythmic", "shrill", "metallic",
              "electronic", "acoustic", "female", "male", "young", "heavy", "light", "intermittent", "buzzy", "squeaky"]
LOCATIONS = ["in the background", "in the distance", "nearby", "outside", "next door", "far away", "upstairs",
             "behind the speaker", "underneath", "on the left", "across the street", "in the next room", "overhead"]
DETERMINERS = ["the", "the", "the", "the", "a", "that", "this", "some", "all the", "those", "my", "our", "his", "her"]
# post-modifiers that describe the sound (part of the caption), unlike FRAMES below (not part of it)
MODIFIERS = ["on the phone", "from the fridge", "at night", "on the shore", "at the end", "by the window",
             "in the kitchen", "on the roof", "under the floor", "outside the window", "on a keyboard", "from the street",
             "from the amplifier", "in the hallway", "on the tree", "in the field", "over the rocks", "around the hive",
             "in the barn", "behind him", "behind her", "along with it", "in the back seat", "on spin cycle",
             "from the subway", "from the radiator", "from the gpu", "on every word", "in the stairwell", "by the pool",
             "on the tin roof", "against the window", "in the pipes", "on the gravel", "in the trees", "near the microphone", "through the wall",
             "with a deep voice", "that keeps honking", "that never stops", "which is really loud", "in the chorus",
             "during the solo", "on the radio", "from the neighbour's stereo", "coming from the engine", "by the river",
             "into the mic", "from the fluorescent lights", "after the goal", "coming from the amplifier",
             "between the two speakers", "in the corner", "on the left channel", "behind me", "from the next table",
             "at the back of the room", "under the vocals", "over the intercom", "during the speech"]
# relative clauses about the recording or the user, not the sound: never part of the caption
TIME_PHRASES = [" at 0:45", " at 1:12", " around 2:30", " near the end", " towards the end", " halfway through",
                " at the start", " at the beginning", " right in the middle of the interview", " in the middle of the song",
                " around the one minute mark", " around the two minute mark", " at the very start", " in the first half",
                " in the second half of the meeting recording", " that starts around two minutes in", " 30 seconds in",
                " at the end of the clip", " at the end of the recording", " during the intro", " in the last few seconds",
                " that comes in halfway through", " that kicks in at 1:20", " which shows up near the end"]
PROJECT_PHRASES = [" from my podcast episode", " from this video i shot yesterday", " that ruined my wedding video",
                   " that got into my audiobook", " during my lecture recording", " in the final mix", " in the final version",
                   " on this call", " in this beat", " outta this beat", " from the voicemail my dad left",
                   " from the farm audio i recorded last spring", " in my vlog", " on my zoom call", " from our rehearsal take",
                   " that i picked up this morning", " that you can hear in the first half", " in yesterday's session",
                   " from my tutorial", " on the demo", " in this footage", " from my livestream"]
COMMENTS = [", it drives me nuts", ", it's so annoying", ", which is barely audible in this clip, so i can use it in a film",
            ", they're way too loud", ", it's ruining everything", ", which is super distracting", ", it keeps cutting in",
            ", this is for a school project", ", so i can sample it", ", it's for my thesis"]
NOT_DESCRIPTION = [" that ruins the whole recording", " i mentioned earlier", " that's driving me nuts", " which i hate",
                   " that keeps ruining my takes", " i told you about", " that bugs me", " that you can hear throughout",
                   " that makes it unlistenable"]
OWNERS = ["the narrator", "the woman", "the man", "the singer", "the speaker", "my dad", "the kid", "the host",
          "the guest", "the drummer", "the teacher", "my neighbour", "the child", "the announcer", "my neighbor",
          "my husband", "my sister", "the referee", "the sportscaster", "my roommate", "the drummer", "the bassist"]
SOUND_NOUNS = ["whine", "rattle", "hum", "gentle hum", "drone", "droning", "buzz", "hiss", "roar", "rumble", "clatter",
               "clanging", "ticking", "beeping", "squeal", "screech", "patter", "crackle", "thump", "tapping", "creak",
               "whir", "howl", "chime", "clicking", "squeak", "whistle", "thud", "jingle", "groan"]
# a source doing something to something: the object is part of the caption
ACTIONS = ["my son playing the drums", "the printer spitting out pages", "the hail hitting the car",
           "the woman humming along with the piano", "someone typing on a keyboard", "the kids splashing in the pool",
           "a man chopping wood", "the dog scratching at the door", "the wind rattling the windows",
           "the cat knocking things over", "the neighbour mowing the lawn", "a woman speaking french",
           "the professor talking", "the bride and groom speaking", "a man reading the news", "the crowd chanting his name",
           "the rain hitting the tent", "a kid bouncing a ball", "the waves hitting the rocks", "someone tapping a pen",
           "my grandfather telling a story", "a guy sweeping the floor", "the chef chopping onions", "the band tuning up"]
OWNED = ["voice", "snoring", "coughing", "laugh", "humming", "breathing", "whistling", "singing", "footsteps", "phone",
         "guitar", "dog", "voice on the phone", "microphone hiss"]


def _everyday_caption(rng: random.Random) -> str:
    if rng.random() < 0.1:   # a possessive: "the narrator's voice"
        return f"{rng.choice(OWNERS)}'s {rng.choice(OWNED)}"
    if rng.random() < 0.07:
        return rng.choice(ACTIONS)
    if rng.random() < 0.1:   # "the high-pitched whine of the dentist's drill": the sound of a source, all of it the caption
        noun, _ = rng.choice(EVERYDAY)
        adjective = rng.choice(ADJECTIVES) + " " if rng.random() < 0.4 else ""
        det = rng.choice(["the", "the", "a", "that", "this", "my"])
        return f"{rng.choice(['the', 'the', 'that', 'this'])} {adjective}{rng.choice(SOUND_NOUNS)} of {det} {noun}"
    noun, gerund = rng.choice(EVERYDAY)
    words = []
    if rng.random() < 0.35:
        words.append(rng.choice(ADJECTIVES))
    if rng.random() < 0.08:
        words.append("background")
    words.append(noun)
    if gerund and rng.random() < 0.6:
        words.append(gerund)
    r = rng.random()
    if r < 0.2:
        words.append(rng.choice(LOCATIONS))
    elif r < 0.4:
        words.append(rng.choice(MODIFIERS))
    det = rng.choice(DETERMINERS)
    if det == "a":
        if noun.endswith("s"):
            det = "the"
        else:
            det = "an" if words[0][0] in "aeiou" else "a"
    phrase = " ".join(words)
    return phrase if rng.random() < 0.12 else f"{det} {phrase}"


def _corpus_caption(rng: random.Random) -> str:
    """A caption the corpus's own generator would write for one or two events."""
    from hsm_lib.data.captions import EventText, caption_for
    from hsm_lib.data.taxonomy import RULES

    n = 1 if rng.random() < 0.75 else 2
    events = [EventText(r.tag, r.tag, rng.choice([1, 1, 1, 2, 3]),
                        tuple(a for a in ("loud", "quiet", "distant", "high", "low", "fast", "slow") if rng.random() < 0.08))
              for r in rng.sample(RULES, n)]
    caption = caption_for(events, rng.random() < 0.5, rng).removeprefix("the sound of ")
    return caption


def _two_captions(rng: random.Random) -> str:
    a, b = random_caption(rng, allow_pair=False), random_caption(rng, allow_pair=False)
    return f"{a}{rng.choice([' and', ' and', ' and', ' or', ' plus', ' along with', ' together with', ', then', ' and then', ' while', ' followed by'])} {b}"


def random_caption(rng: random.Random, allow_pair: bool = True) -> str:
    """A description of a sound, lower case: the corpus's vocabulary or an everyday source."""
    r = rng.random()
    if allow_pair and r < 0.15:
        return _two_captions(rng)
    return _corpus_caption(rng) if r < 0.45 else _everyday_caption(rng)


# --- task phrases ---------------------------------------------------------------------------------

EXTRACT_VERBS = ["extract", "isolate", "separate", "separate out", "keep", "keep only", "keep just", "pull out",
                 "pick out", "bring out", "single out", "solo", "give me", "give me only", "let me hear",
                 "let me hear only", "focus on", "retain", "preserve", "grab", "capture", "highlight", "leave only",
                 "play only", "play me", "zoom in on", "dig out", "fish out", "lift out", "split out", "get me",
                 "save", "rescue", "salvage", "hold on to", "hang on to", "export", "bounce out", "strip everything but",
                 "keep nothing but", "filter everything except", "listen to", "hear", "enhance", "emphasize",
                 "boost", "bring up", "turn up", "amplify", "spotlight", "feature", "listen only to", "spare only",
                 "zero in on", "home in on", "tease out", "hold onto", "hang onto", "gimme", "gimme just", "need",
                 "pluck out", "draw out", "carve out", "keep hold of", "protect", "want", "just want"]
REMOVE_VERBS = ["remove", "get rid of", "mute", "filter out", "take out", "cut out", "cut", "suppress", "silence", "drop",
                "erase", "delete", "eliminate", "kill", "block out", "strip out", "cancel out", "exclude", "discard", "lose",
                "ditch", "zap", "scrub", "nuke", "clean up", "edit out", "knock out", "tune out", "turn off", "shut off",
                "hide", "dampen", "reduce", "attenuate", "muffle", "wipe out", "clear out", "leave out", "omit",
                "get out", "throw out", "chuck", "bin", "axe", "squash", "duck out", "turn down", "do away with",
                "take away", "denoise", "purge", "subtract", "shush", "scrap", "yank", "nix", "banish", "weed out",
                "shave off", "boot", "toss", "dump", "trash", "junk", "excise", "expunge", "hush", "quieten", "tone down",
                "throw away", "let go of", "dispose of", "fix", "gate out", "notch out", "chop out", "snip out", "cull",
                "scoop out", "scrub out", "get shot of", "can", "deep-six", "ice", "strip away", "peel off", "silence out"]
OPENINGS = ["", "", "", "", "please ", "pls ", "could you ", "can you ", "can you please ", "would you ", "would you kindly ",
            "i'd like you to ", "i want you to ", "i need you to ", "help me ", "could you help me ", "hey, ", "hi! ",
            "ok so ", "yo ", "go ahead and ", "try to ", "is it possible to ", "any chance you could ", "i need to ",
            "i'd love to ", "let's ", "kindly ", "quick one: ", "hey can you ", "would you mind helping me ", "so, ",
            "yo can u ", "can u ", "bruh ", "ngl ", "honestly ", "lowkey ", "for the love of god ",
            "please for the love of god ", "would it be possible to ", "is there any way to ", "hi! could you please help me ",
            "hello, could you ", "how do i ", "can't you just ", "any way to ", "i was wondering if you could "]
CLOSINGS = ["", "", "", "", " im begging", " lol", ", thanks so much", ". thanks so much.", ", if that's doable",
            " asap pls", ". thanks in advance!", " please", ", please", " thanks", ", thank you", " thx", " asap", " for me", " if you can",
            ", if possible", " right now", ". thanks!", ", cheers", " :)", ", would be great", " real quick"]
WHOLE = ["the song", "the track", "the recording", "this clip", "the audio", "the video", "the mix", "the file",
         "this podcast", "my recording", "the whole thing", "everything", "the full mix", "this sample", "the tape",
         "the voice memo", "the stream", "the soundtrack", "the clip", "this take", "the field recording"]
FRAMES = ["", "", "", "", "", " from the mix", " from the recording", " in this clip", " from this track", " in the audio",
          " from the rest of the song", " from the rest of the track", " from everything else", " in the video",
          " throughout the clip", " from my voice memo", " on this recording", " in the file", " out of the mix",
          " from the background", " from the podcast", " in the second half", " during the intro",
          " for the whole clip", " across the whole file", " from the sample", " from the stream"]
FRAMINGS = ["", "", "", "", "", "", "the sound of ", "the noise of ", "the sound from ", "the part where ",
            "the bit where ", "whatever is making ", "the audio of ", "the noises made by ", "the sounds of "]
SENTENCES_BEFORE = ["", "", "", "", "", "i'm editing a video. ", "this is for my podcast. ", "quick question. ",
                    "i recorded this outside. ", "my neighbour's party ruined this take. ", "ugh. ",
                    "here's a clip from yesterday. ", "working on a remix. ", "this is a field recording. ",
                    "we recorded our band in a garage. ", "i'm making a ringtone. ", "for my thesis, ",
                    "in yesterday's field recording, ", "so annoying. ", "this voice memo is useless. ", "ugh, ", "bruh ",
                    "ngl ", "fwiw ", "honestly ", "lowkey ", "working on a nature doc. ", "i'm transcribing a lecture. ",
                    "i recorded my grandfather telling a story. ", "hi! ", "ok so "]


def _not_the_sound(rng: random.Random, p: float = 0.25) -> str:
    """Words after the sound that are not part of its description (``p`` of the time): where in the file
    it is, the user's project, a comment, a clause about the user ("the hum i mentioned earlier")."""
    if rng.random() >= p:
        return ""
    return rng.choice(rng.choice([TIME_PHRASES, PROJECT_PHRASES, COMMENTS, NOT_DESCRIPTION]))


def _join(rng: random.Random, *parts: tuple[str, bool]) -> tuple[str, tuple[int, int]]:
    """Concatenate (text, is_caption) parts; returns the text and the caption's character span."""
    text, span = "", (0, 0)
    for part, is_caption in parts:
        if is_caption:
            span = (len(text), len(text) + len(part))
        text += part
    return text, span


def _framed(rng: random.Random, caption: str, allow_framing: bool = True) -> list[tuple[str, bool]]:
    """The caption, maybe after framing that is not part of it ("the part where ...")."""
    framing = rng.choice(FRAMINGS) if allow_framing else ""
    return [(framing, False), (caption, True)]


# ("keep A but remove B" is the removal of B: the rest of the recording stays; see _negated_inversion)
REST_EXTRACT = ["", "", "", ", drop everything else", " and drop the rest", " and mute everything else", ", lose the rest",
                " and get rid of the rest", ", nothing else", " and nothing else", ", remove all other sounds"]
REST_REMOVE = ["", "", "", ", keep the rest", " but keep everything else", " and keep the rest", ", leave the rest",
               ", keep everything else", " but keep {o}", ", and keep {o}", " but leave {o}", "; keep {o} though"]


def _rest_clause(rng: random.Random, task: str, other: str) -> str:
    """What happens to the rest: the opposite action on everything else ("..., bin the rest")."""
    if rng.random() < 0.6:
        return rng.choice(REST_EXTRACT if task == EXTRACTION else REST_REMOVE).replace("{o}", other)
    verb = rng.choice(REMOVE_VERBS if task == EXTRACTION else ["keep", "leave", "preserve", "hold onto", "retain", "save"])
    rest = rng.choice(["the rest", "everything else", "all the other sounds", "all else", "whatever else"]
                      + (["{o}"] if task == REMOVAL else []))
    return rng.choice([" and ", ", ", "; ", " but ", ", then "]) + f"{verb} " + rest.replace("{o}", other)


def _direct(rng, caption, task, other):
    verbs = EXTRACT_VERBS if task == EXTRACTION else REMOVE_VERBS
    verb = rng.choice(verbs)
    only = rng.choice(["", "", "", "only ", "just "]) if task == EXTRACTION else ""
    rest = _rest_clause(rng, task, other)
    before = rng.choice(SENTENCES_BEFORE) if rng.random() < 0.15 else ""
    return [(before + rng.choice(OPENINGS) + only + verb + " ", False), *_framed(rng, caption),
            (_not_the_sound(rng, 0.3) + rng.choice(FRAMES) + rest, False)]


def _particle(rng, caption, task):
    verb, particle = (rng.choice([("pull", "out"), ("pick", "out"), ("bring", "out"), ("single", "out"), ("tease", "out"),
                                  ("fish", "out")]) if task == EXTRACTION else
                      rng.choice([("take", "out"), ("cut", "out"), ("filter", "out"), ("get", "out of there"),
                                  ("edit", "out"), ("strip", "out"), ("knock", "out"), ("turn", "down"), ("tone", "down"),
                                  ("take", "away")]))
    return [(rng.choice(OPENINGS) + verb + " ", False), (caption, True), (f" {particle}", False), (rng.choice(FRAMES), False)]


def _wish(rng, caption, task):
    if task == EXTRACTION:
        lead = rng.choice(["i only want to hear ", "i just want ", "i just want to hear ", "all i want is ", "i want only ",
                           "i'd like to hear only ", "only ", "just ", "nothing but ", "i only care about ",
                           "i'm only interested in ", "what i need is ", "the only thing i want is ", "give me nothing but ",
                           "all i care about is ", "i want to hear ", "let me just hear "])
        tail = rng.choice(["", "", " on its own", " by itself", " alone", " in isolation", ", nothing else",
                           " and nothing else", ", no other sounds", " isolated", " solo"])
    else:
        lead = rng.choice(["i don't want to hear ", "i don't want ", "i can't stand ", "i hate ", "no more ", "without ",
                           "i'd rather not hear ", "i'm sick of ", "i don't need ", "can we lose ", "can i get rid of ",
                           "make it so i can't hear ", "i never want to hear ", "spare me ", "please no ",
                           "i'm tired of hearing ", "enough of "])
        tail = rng.choice(["", "", " anymore", " any more", " at all", " in there", ", it's too loud", " please"])
    return [(lead, False), *_framed(rng, caption), (rng.choice(FRAMES) + tail, False)]


def _passive(rng, caption, task):
    if task == EXTRACTION:
        tail = rng.choice([" isolated", " extracted", " on its own", " by itself", " alone please", " only", " solo'd",
                           " separated out", " soloed", " and nothing else", ", just that"])
        lead = rng.choice(["", "", "can i get ", "i want ", "i'd like ", "could i have ", "make it ", "leave me with "])
    else:
        tail = rng.choice([" removed", " gone", " muted", " has to go", " needs to go", " must go", " should go",
                           " taken out", " out", " deleted", " needs to disappear", " cut out", " silenced", " is too much",
                           " shouldn't be there", " is distracting, drop it"])
        lead = rng.choice(["", "", "can i get ", "i want ", "i'd like ", "could i have ", "make ", "get "])
    return [(lead, False), (caption, True), (rng.choice(FRAMES) + tail, False)]


def _pronoun(rng, caption, task):
    intro = rng.choice(["there's {c}{f}. ", "there is {c}{f}; ", "hear {c}{f}? ", "you can hear {c}{f}. ",
                        "{c}{f} keeps interrupting. ", "{c}{f} is all over it. ", "i love {c}{f}. ",
                        "so there's {c}{f} — ", "see {c}{f}? ", "{c}{f}: ", "notice {c}{f}? ", "{c}{f} is really loud. ",
                        "there's {c}{f}, ", "about {c}{f}: ", "{c}{f} drowns out the dialogue. ",
                        "listen to {c}{f}. ", "{c}{f}... ", "{c}{f} is gorgeous. ", "{c}{f} is super loud on this call. ",
                        "{c}{f} slaps, ", "{c}{f} sounds amazing, ", "{c}{f} is so distracting, ", "{c}{f} is insane, ",
                        "{c}{f} ruined the take. ", "{c}{f} is in the background of my podcast. ", "{c} comes in halfway through. ",
                        "someone keeps opening {c}. ", "someone keeps slamming {c}. ", "{o} is fine, but {c}{f} keeps showing up. ",
                        "i recorded {o}, but there's {c}{f}. ", "somewhere in this clip there's {c}. ",
                        "why is there still {c}{f} in here? ", "{c}{f}... yeah, that. ", "{c}. ", "{c}? ",
                        "my recording has {c}{f} all over it. ", "i love {c}{f}. ", "the {c} part is great. ",
                        "{c}{f} is what i'm after. ", "{c}{f} is the one i want. ", "{c}{f} drowns out my voice memo, ",
                        "{c}{f} is all over every take. ", "there was {c}{f}. ", "{c}{f} is faint but it's there. ",
                        "{o} got mixed with {c}{f}. ", "{c}{f} flew over during my wedding vows. "])
    ref = rng.choice(["it", "that", "them", "this", "that sound", "that noise", "it", "him", "her", "it"])
    if task == EXTRACTION:
        act = rng.choice(["can you isolate {r}?", "keep {r} and drop the rest", "i want only {r}", "extract {r}",
                          "pull {r} out for me", "can i have just {r}", "keep only {r}", "separate {r} please",
                          "give me {r} alone", "solo {r}", "that's all i want to hear", "just {r}, nothing else",
                          "get rid of everything except {r}", "mute everything but {r}", "please keep {r}",
                          "i want {r} by itself", "i want a clip of just {r}", "that's the only thing i want to keep",
                          "that's all i want", "just {r}, please", "keep {r} and mute everything else",
                          "pull {r} out onto its own track", "that's the only thing i'm interested in hearing",
                          "could you keep only {r}?", "isolate {r} for me", "i need {r} alone", "can i get just {r}",
                          "keep {r} and lose everything else", "keep {r}, bin the rest", "hang on to {r} and let go of the rest",
                          "i want to hear only {r}", "could you give me just {r}?"])
    else:
        act = rng.choice(["remove {r}", "please get rid of {r}", "can you take {r} out?", "kill {r}", "lose {r}",
                          "mute {r}", "i want {r} gone", "make {r} go away", "cut {r}", "ditch {r}, keep the rest",
                          "filter {r} out", "can you remove {r}?", "erase {r} please", "zap {r}",
                          "keep everything except {r}", "i don't want {r}", "i don't want {r} in the final mix",
                          "make {r} not be there", "any way to nix {r}?", "gone, please", "can u get rid of {r}",
                          "is it possible to remove {r}?", "help me get {r} out of there", "remove {r}, please",
                          "i want {r} gone", "please take {r} out", "cut {r} out", "get {r} out", "make {r} stop please",
                          "can you make {r} disappear?", "nuke {r}", "please do something about {r}", "i'd like {r} removed"])
    intro = intro.replace("{o}", random_caption(rng, allow_pair=False))
    intro_pre, intro_post = intro.split("{c}")
    frame = (rng.choice(["", "", "", " in the background", " in this clip", " in the recording"]) + _not_the_sound(rng, 0.3)
             if "{f}" in intro_post else "")
    return [(rng.choice(SENTENCES_BEFORE) + intro_pre, False), (caption, True),
            (intro_post.replace("{f}", frame) + act.replace("{r}", ref), False)]


def _inversion(rng, caption, task):
    everything = rng.choice(["everything", "everything else", "all other sounds", "all the other sounds", "the rest",
                             "anything", "every other sound", "all the noise", "all of it", "everything in the mix"])
    except_ = rng.choice(["except", "except for", "but", "other than", "apart from", "besides", "aside from", "save",
                          "excluding", "that isn't", "that's not", "but not"])
    if task == EXTRACTION:   # drop everything but X: X is kept
        verb = rng.choice(REMOVE_VERBS[:20])
        return [(rng.choice(OPENINGS) + f"{verb} {everything} {except_} ", False), (caption, True), (rng.choice(FRAMES), False)]
    verb = rng.choice(["keep", "leave", "preserve", "give me", "let me hear", "i want", "play", "retain", "keep all of",
                       "", "", "i want to hear", "i'd like"])
    lead = rng.choice(OPENINGS) + f"{verb} " if verb else ""
    return [(lead + f"{everything} {except_} ", False), (caption, True), (rng.choice(FRAMES), False)]


def _negation(rng, caption, task, other):
    """"don't remove X, take out Y": the asked-for action is on Y."""
    verbs = EXTRACT_VERBS if task == EXTRACTION else REMOVE_VERBS
    first = rng.choice(REMOVE_VERBS[:15] if task == EXTRACTION else EXTRACT_VERBS[:15])
    verb = rng.choice(verbs[:25])
    form = rng.random()
    if form < 0.4:   # don't <opposite> X  -> task on X
        rest = ", drop the rest" if task == EXTRACTION else ", keep everything else"
        return [(rng.choice(["don't ", "do not ", "please don't ", "never "]) + first + " ", False), (caption, True),
                (rng.choice(FRAMES) + rng.choice(["", "", rest]), False)]
    if form < 0.7:   # don't <same action> Y, <action> X
        same = rng.choice(verbs[:15])
        return [(rng.choice(["don't ", "do not ", "please don't "]) + f"{same} {other}, " + rng.choice(["", "", "just ", "only "])
                 + verb + " ", False), (caption, True), (rng.choice(FRAMES), False)]
    return [(f"not {other}! " + verb + " ", False), (caption, True), (rng.choice(FRAMES), False)]


def _without(rng, caption, task, other):
    if task == REMOVAL:   # the whole without X: X goes
        whole = rng.choice(WHOLE)
        lead = rng.choice(["", "", "give me ", "i want ", "play ", "can i hear ", "just ", "i need ", "let me hear "])
        prep = rng.choice(["without", "minus", "with no", "but without", "with no more", "sans", "free of", "stripped of",
                           "except"])
        return [(rng.choice(OPENINGS[:6]) + lead + f"{whole} {prep} ", False), (caption, True), (rng.choice(CLOSINGS), False)]
    lead = rng.choice(["", "", "give me ", "i want ", "just ", "only ", "keep ", "isolate ", "extract ", "i need "])
    prep = rng.choice(["without", "minus", "with no", "but not", "and not", "without any of"])
    return [(lead, False), (caption, True), (f" {prep} {other}", False), (rng.choice(CLOSINGS), False)]


def _question(rng, caption, task):
    if task == EXTRACTION:
        lead = rng.choice(["what does ", "how does ", "how would ", "can i hear what ", "what would "])
        tail = rng.choice([" sound like on its own?", " sound like by itself?", " sound alone?", " sound like isolated?",
                           " sound like without everything else?"])
        return [(lead, False), (caption, True), (tail, False)]
    lead = rng.choice(["can you make ", "could you make ", "is there a way to make ", "how about making "])
    tail = rng.choice([" disappear?", " go away?", " vanish?", " inaudible?", " silent?", " quieter?"])
    return [(lead, False), (caption, True), (tail, False)]


def _label(rng, caption, task):
    label = rng.choice(["extract", "extraction", "keep", "target", "isolate", "wanted", "solo", "query"]) if task == EXTRACTION \
        else rng.choice(["remove", "removal", "delete", "mute", "drop", "unwanted", "noise", "kill"])
    sep = rng.choice([": ", " - ", " -> ", " = ", ":  "])
    return [((label.capitalize() if rng.random() < 0.5 else label) + sep, False), (caption, True)]


def _bare(rng, caption, task):
    return [("", False), (caption, True), (rng.choice(["", "", " only", " please", " isolated"]), False)]


def _statement(rng, caption, task):
    """A sentence about the sound, then the request by pronoun ("X is way out of time. take it out?")."""
    if task == EXTRACTION:
        s = rng.choice(["{c} is the one i want. can you separate {r} out?", "i'm only interested in {c}. can you help?",
                        "{c} is all i need, the rest can go.", "all i'm after is {c}.", "i'm only after {c}.",
                        "{c} is what matters here; keep {r}.", "the only thing worth keeping is {c}.",
                        "i recorded {w} and i only care about {c}. help?", "could you leave just {c}? that's what i need."])
    else:
        s = rng.choice(["{c} is way out of time. can you take {r} out?", "{w} has a ton of {c}. is there any way to remove {r}?",
                        "{c} drowns everything out, please remove {r}.", "{c} ruined my take. can you remove {r}?",
                        "i recorded {w} and {c} is everywhere. get rid of {r}?", "{c} is ruining {w}. lose {r}.",
                        "ugh, {c} again. kill {r}.", "{c} keeps popping up, can it go?", "{w} is useless because of {c}. fix {r}?"])
    w = rng.choice(["my recording", "this clip", "the podcast", "my voice memo", "a jam session", "the lecture", "my video"])
    r = rng.choice(["it", "that", "them", "it", "that sound"])
    pre, post = s.split("{c}", 1)
    return [(rng.choice(SENTENCES_BEFORE) + pre.replace("{w}", w).replace("{r}", r), False), (caption, True),
            (post.replace("{w}", w).replace("{r}", r), False)]


def _negated_inversion(rng, caption, task, other):
    """Inversions through negation and contrast ("I don't want anything except X", "keep Y, lose X")."""
    if task == EXTRACTION:
        s = rng.choice(["i don't want anything except {c}", "nothing should remain except {c}", "don't keep anything but {c}",
                        "leave nothing except {c}", "i want nothing but {c}", "nothing except {c}, please",
                        "no other sounds but {c}", "drop all but {c}", "mute all but {c}", "anything other than {c} can go",
                        "everything that isn't {c} can go", "get rid of anything that's not {c}",
                        "{c} without anything else", "{c} without {o}", "just {c}, not {o}", "{c} but not {o}",
                        "can i hear what {c} is doing, without anything else?", "keep {c}, not {o}",
                        "all but {c} can go", "everything but {c} can go", "i want nothing left but {c}",
                        "don't leave anything in except {c}", "keep nothing except {c}", "not {o}, just {c}", "{c}, not {o}",
                        "{c}, no {o}", "only {c}, no {o}", "i'd like {c} but not {o}", "i want {c} but not {o}",
                        "the only thing worth keeping is {c}", "{c} and nothing else", "let {c} through and block the rest",
                        "save {c} and throw away everything else", "hold on to {c}, toss the rest",
                        "it isn't {o} i'm after, it's {c}", "give me {c} without {o}", "{c} without the {o}"])
    else:
        s = rng.choice(["leave everything else alone but take out {c}", "don't touch anything except {c}, which should go",
                        "i don't want to lose {o}, just {c}", "don't get rid of {o}; remove {c} instead",
                        "keep {o}, lose {c}", "keep {o} but get rid of {c}", "keep {o}, but remove {c}",
                        "preserve {o} and mute {c}", "leave {o} alone but take out {c}", "{o} stays, {c} goes",
                        "{c} goes, {o} stays", "everything can stay except {c}", "all but {c} can stay",
                        "keep it all apart from {c}", "the {w} minus {c}", "a version of the {w} without {c}",
                        "make me a version of the {w} without {c}", "not {o} — {c} is what has to go",
                        "task: remove. target: {c}", "action: delete / sound: {c}", "everything but {c} should stay",
                        "everything except {c} can stay", "leave out nothing but {c}", "could you not remove anything except {c}",
                        "don't remove anything except {c}", "it's not {o} i want gone, it's {c}", "i'm fine with {o}, just not {c}",
                        "what i don't want is {c}", "{c} shouldn't be there", "no {c} in the final version",
                        "play the {w} back without {c}", "leave the {w} as is but without {c}",
                        "keep the {w} the same but without {c}", "can i get the {w} without {c}?", "give me the {w} without {c}",
                        "everything in the {w} without {c}", "the whole {w} minus {c}", "the {w}'s audio without {c}",
                        "i want the {w} without {c}"])
    w = rng.choice(["song", "track", "podcast", "clip", "recording", "video"])
    pre, post = s.split("{c}", 1)
    return [(rng.choice(OPENINGS[:8]) + pre.replace("{o}", other).replace("{w}", w), False), (caption, True),
            (post.replace("{o}", other).replace("{w}", w), False)]


def _task_label(rng, caption, task):
    t = rng.choice(["extract", "keep", "isolate", "extraction"]) if task == EXTRACTION else \
        rng.choice(["remove", "delete", "removal", "mute"])
    if rng.random() < 0.3:   # the caption first: "wind chimes - remove"
        return [("", False), (caption, True), (rng.choice([" - ", " -> ", ": ", " => ", " | "]) + t, False)]
    lead = rng.choice(["task: {t}. target: ", "task = {t}, sound = ", "[{t}] ", "{t} -> ", "mode: {t}; what: ",
                       "label: {t} | sound: ", "action = {t}; source = ", "{t} => "])
    return [(lead.replace("{t}", t), False), (caption, True)]


def _question_alone(rng, caption, task):
    if task == EXTRACTION:
        lead = rng.choice(["what does ", "how does ", "what would ", "how would "])
        tail = rng.choice([" sound like on its own?", " sound like solo?", " sound like with nothing else?", " sound like alone?"])
    else:
        lead = rng.choice(["is there any way to remove ", "could you possibly get rid of ", "any way to lose ", "can we cut "])
        tail = rng.choice(["?", " from it?", " somehow?", ""])
    return [(lead, False), (caption, True), (tail, False)]


def _idiom(rng, caption, task):
    """Questions about the sound, reductions, and goals ("can X be removed?", "strip it down to just X")."""
    if task == EXTRACTION:
        s = rng.choice(["can {c} be isolated?", "could {c} be extracted?", "strip the track down to just {c}",
                        "reduce it to only {c}", "make {c} the only sound", "make it so only {c} is audible",
                        "i only want {c} left", "i'm trying to isolate {c}", "my goal is to extract {c}",
                        "separate {c} from the music", "isolate {c} from the background noise",
                        "i'm looking to pull out {c}", "would you be able to isolate {c}?", "{c} needs to be isolated",
                        "{c} should be the only thing left", "i'm hoping to keep just {c}"])
    else:
        s = rng.choice(["can {c} be removed?", "could {c} be taken out?", "make it so i can't hear {c}",
                        "i'm trying to remove {c}", "my goal is to get rid of {c}", "don't leave {c} in",
                        "shut up {c}", "switch off {c}", "dial down {c}", "would you be able to remove {c}?",
                        "i'm looking to cut {c}", "{c} needs to be removed", "{c}, begone", "turn {c} off",
                        "get {c} out of here", "i'm hoping to lose {c}"])
    pre, post = s.split("{c}", 1)
    return [(rng.choice(OPENINGS[:8]) + pre, False), (caption, True), (_not_the_sound(rng, 0.2) + post, False)]


FORMS = {  # name -> (weight, builder); builders taking `other` get a second caption
    "direct": (6, _direct), "particle": (1, _particle), "wish": (3, _wish), "passive": (2, _passive),
    "pronoun": (4, _pronoun), "inversion": (2, _inversion), "negation": (1.5, _negation), "without": (2, _without),
    "question": (1, _question), "label": (0.7, _label), "bare": (1, _bare), "statement": (2.5, _statement),
    "negated_inversion": (2, _negated_inversion), "task_label": (0.5, _task_label), "question_alone": (0.7, _question_alone),
    "idiom": (1.5, _idiom),
}
NEEDS_OTHER = {"negation", "without", "direct", "negated_inversion"}


def _surface(rng: random.Random, text: str) -> str:
    """Capitals and end punctuation as people type them (the span is found again afterwards)."""
    if rng.random() < 0.5:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.08:
        text = text.upper() if rng.random() < 0.3 else text.title()
    if not text.rstrip().endswith(("?", "!", ".", ")")) and rng.random() < 0.5:
        text += rng.choice([".", ".", "!", "?", "..."])
    return text


def generate(n: int, seed: int = 0) -> list[GeneratedInstruction]:
    """``n`` examples, deterministic in ``seed``, both tasks equally often."""
    from hsm_lib.text.instructions import normalise

    rng = random.Random(seed)
    names = list(FORMS)
    weights = [FORMS[k][0] for k in names]
    out: list[GeneratedInstruction] = []
    while len(out) < n:
        task = EXTRACTION if len(out) % 2 == 0 else REMOVAL
        form = rng.choices(names, weights)[0]
        if form == "bare" and task == REMOVAL:
            continue   # a bare description asks to extract it
        caption = random_caption(rng)
        builder = FORMS[form][1]
        parts = builder(rng, caption, task, random_caption(rng, allow_pair=False)) if form in NEEDS_OTHER else builder(rng, caption, task)
        parts = parts + [(rng.choice(CLOSINGS) if form != "question" else "", False)]
        raw = "".join(p for p, _ in parts)
        text = _surface(rng, raw)
        # the caption's place in the normalised text: normalisation only lower-cases and squeezes spaces
        norm = normalise(text)
        start = len(normalise(_surface_prefix(text, parts)))
        cap_norm = normalise(caption)
        start = norm.find(cap_norm, max(0, start - 2))
        if start < 0:
            continue
        out.append(GeneratedInstruction(text, task, cap_norm, (start, start + len(cap_norm))))
    return out


def _surface_prefix(text: str, parts: list[tuple[str, bool]]) -> str:
    """The part of ``text`` before the caption (same length as the raw parts before it)."""
    n = 0
    for p, is_caption in parts:
        if is_caption:
            break
        n += len(p)
    return text[:n]
