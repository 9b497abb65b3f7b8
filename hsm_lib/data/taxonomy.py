"""The unified tag taxonomy: one table that maps every source label to tags.

The paper asks GPT-4 to put the labels and captions of five corpora into shared audio-event
tags ("rain" and "raindrop" are one type) and mixes only clips whose tags do not overlap.
Offline we keep that mapping in one table: each :class:`TagRule` names a unified tag, an
optional coarser ``parent`` tag (two hi-hats and a crash cymbal share "cymbal"; male and
female speech share "speech", so neither pair is ever mixed), the regular expression that
recognises it in a label or caption, and the words captions use for it.

``tag_for_label`` takes the first rule that matches a label (labels name one event);
``tags_from_text`` collects every rule that matches a free-text caption (the importers'
stand-in for GPT-4's tag extraction). ``OOD_RULES``, a second table read only by
``ood_tag_for_label``, places the labels of the out-of-domain test set (Tux Paint's sounds).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class TagRule:
    tag: str
    pattern: str  # regex over the lower-cased label, words separated by spaces
    noun: str  # "a dog"
    verb: str  # third person, present: "barks"
    gerund: str  # "barking"
    parent: str = ""  # coarser tag shared with siblings; also blocks mixing

    @property
    def tags(self) -> tuple[str, ...]:
        return (self.tag, self.parent) if self.parent else (self.tag,)


def _r(tag: str, pattern: str, noun: str, verb: str, gerund: str, parent: str = "") -> TagRule:
    return TagRule(tag, pattern, noun, verb, gerund, parent)


# Order matters for labels: the first match wins, so specific rules come before general ones.
RULES: tuple[TagRule, ...] = (
    # --- speech and human voice -------------------------------------------------------
    _r("female speech", r"\b(female|woman|women|girl|lady) (speech|speak|speaking|talk)|\bfemale speech\b|allison", "a woman", "speaks", "speaking", "speech"),
    _r("male speech", r"\b(male|man|men|boy|gentleman) (speech|speak|speaking|talk)|\bmale speech\b", "a man", "speaks", "speaking", "speech"),
    _r("speech", r"\b(speech|speaks?|speaking|talk(s|ing)?|narrat\w*|conversation|voice says)\b", "someone", "speaks", "speaking"),
    _r("whoosh", r"\bmiss\b|\bwhoosh\w*|\bswish\w*|\bswoosh\w*", "something", "whooshes past", "whooshing past"),
    _r("female scream", r"\b(female|woman)\b.*\b(die|hit|scream\w*|cry)\b", "a woman", "cries out", "crying out", "scream"),
    _r("male scream", r"\b(human|man|dwarf|elf|old|mermen|merman)\b.*\b(die|hit)\b|\bgroan\b|\bscream\w*", "a man", "cries out", "crying out", "scream"),
    _r("laughter", r"\blaugh\w*", "someone", "laughs", "laughing"),
    _r("applause", r"\bapplau\w*|\bclapping crowd\b", "a crowd", "applauds", "applauding", "crowd"),
    _r("crowd", r"\bcrowd\b|\bcheer\w*", "a crowd", "cheers", "cheering"),
    _r("breathing", r"\bbreath\w*", "someone", "breathes", "breathing"),
    _r("heartbeat", r"\bheart ?beat\w*|\bheart\b", "a heart", "beats", "beating"),
    _r("footsteps", r"\bfootsteps?\b|\bwalk\w*|\bsteps\b", "footsteps", "sound", "sounding"),
    _r("knocking", r"\bknock\w*", "someone", "knocks", "knocking"),
    _r("whistle", r"\bwhistl\w*", "a whistle", "blows", "blowing"),
    # --- animals ------------------------------------------------------------------------
    _r("dog", r"\bdogs?\b|\bbark\w*|\bpupp\w+|\bwoof", "a dog", "barks", "barking", "canine"),
    _r("wolf", r"\bwol(f|ves)\b|\bhowl\w*", "a wolf", "growls", "growling", "canine"),
    _r("cat", r"\bcats?\b|\bmeow\w*|\bkitten", "a cat", "meows", "meowing"),
    _r("cow", r"\bcows?\b|\bmoo\w*|\bcattle\b", "a cow", "moos", "mooing"),
    _r("horse", r"\bhorses?\b|\bneigh\w*|\bgallop\w*|\bcanter\w*|\bhooves\b", "a horse", "trots", "trotting"),
    _r("pig", r"\bpigs?\b|\boink\w*|\bgrunt\w*", "a pig", "grunts", "grunting"),
    _r("sheep", r"\bsheep\b|\bbleat\w*|\blambs?\b|\bgoats?\b", "a sheep", "bleats", "bleating"),
    _r("duck", r"\bducks?\b|\bquack\w*", "a duck", "quacks", "quacking", "bird"),
    _r("chicken", r"\bchickens?\b|\bhens?\b|\brooster\b|\bcluck\w*|\bcrow(s|ing)?\b", "chickens", "cluck", "clucking", "bird"),
    _r("owl", r"\bowls?\b|\bhoot\w*", "an owl", "hoots", "hooting", "bird"),
    _r("bird", r"\bbirds?\b|\bchirp\w*|\btweet\w*|\bsongbird|\bwarbl\w*|\bmorning\b", "birds", "chirp", "chirping"),
    _r("frog", r"\bfrogs?\b|\bcroak\w*|\btoads?\b", "frogs", "croak", "croaking"),
    _r("insects", r"\binsects?\b|\bcrickets?\b|\bcicadas?\b|\bbees?\b|\bbuzzing insect|\bnight\b", "insects", "chirp", "chirping"),
    _r("snake", r"\bsnakes?\b|\bhiss\w*", "a snake", "hisses", "hissing"),
    _r("wings flapping", r"\bflap\w*|\bwings?\b|\bbats?\b", "wings", "flap", "flapping"),
    _r("monster growl", r"\b(orc|troll|ogre|goblin|yeti|ghoul|lich|zombie|drake|gryphon|naga|wose|tusker|skeleton|mermaid|monster|ugg|dragon)\b|\bgrowl\w*|\broar\w*|\bshriek\w*|\bbite\b|\bclaws?\b|\bpincers\b", "a monster", "growls", "growling"),
    _r("elephant", r"\belephants?\b|\btrumpeting\b", "an elephant", "trumpets", "trumpeting"),
    # --- weather and nature --------------------------------------------------------------
    _r("rain", r"\brain\w*|\bdrizzl\w*|\bdownpour", "rain", "falls", "falling", "water"),
    _r("thunder", r"\bthunder\w*|\blightning\b", "thunder", "rumbles", "rumbling"),
    _r("wind", r"\bwind\b|\bwindy\b|\bgusts?\b|\bbreeze\b", "wind", "blows", "blowing"),
    _r("water", r"\bwater\w*|\bstreams?\b|\bsplash\w*|\bbubbl\w*|\bwaves?\b|\bpour\w*|\bdrip\w*|\bliquid|\bharbou?r\b|\bshower\b|\bpotion\b|\bink\b|\bmud\b|\bsquish\w*", "water", "splashes", "splashing"),
    _r("fire", r"\bfire(balls?)?\b|\bflames?\b|\bcampfire\b|\btorch\b|\bcrackl\w*|\bburn\w*|\bfuse\b", "a fire", "crackles", "crackling"),
    # --- vehicles and machines -----------------------------------------------------------
    _r("engine", r"\bengines?\b|\bhelicopter\b|\brocket\b|\bfactory\b|\bmachine\w*|\bmotor\w*|\bcar\b|\bcars\b|\bhum\b|\bidl\w*|\btraffic\b|\bdrone\b", "an engine", "hums", "humming", "vehicle"),
    _r("train", r"\btrains?\b|\brailway\b|\blocomotive\b", "a train", "passes", "passing", "vehicle"),
    _r("siren", r"\bsirens?\b|\bwail\w*|\bambulance\b|\bpolice\b", "a siren", "wails", "wailing", "alarm"),
    _r("alarm", r"\balarm\w*|\bmorse\b|\bbeep\w*|\bbuzzer\b|\bbuzz\b", "an alarm", "beeps", "beeping"),
    _r("telephone", r"\bphones?\b|\btelephone\b|\bringing\b|\bring(tone)?\b|\bdial\w*", "a telephone", "rings", "ringing", "alarm"),
    _r("clock", r"\bclock\b|\btick\w*|\bmetronome\b", "a clock", "ticks", "ticking"),
    _r("ship", r"\bships?\b|\bboats?\b|\bcreak\w*", "a ship", "creaks", "creaking"),
    _r("door", r"\bdoors?\b|\bslam\w*|\bchest\b", "a door", "opens", "opening"),
    _r("thud", r"\bfall\w*|\bdrop\b|\bthud\w*|\bthump\w*", "something", "thuds", "thudding"),
    _r("metal clank", r"\bmetal\b|\bpickaxe\b|\bhammer\w*|\bclank\w*|\bbrick\b|\banvil\b", "metal", "clanks", "clanking"),
    _r("rustle", r"\bflip\b|\bscroll\w*|\bslide\w*|\brustl\w*|\bpaper\b", "paper", "rustles", "rustling"),
    _r("chewing", r"\beat\b|\beating\b|\bchew\w*|\bcrunch\w*|\bmunch\w*", "someone", "chews", "chewing"),
    _r("game chime", r"\bsparkl\w*|\bbonus\b|\bwin\b|\bbleep\w*|\bcomplete task\b|\blose sound\b|\bding\b", "a chime", "rings", "ringing"),
    _r("explosion", r"\bexplo\w*|\bblast\b|\bboom\b|\bdetonat\w*|\bcave in\b|\brumble\w*", "an explosion", "booms", "booming"),
    _r("gunshot", r"\bgun\w*|\bshots?\b|\bthunderstick\b|\bdragonstick\b|\bfiring\b|\blaser\b", "a gun", "fires", "firing"),
    _r("weapon", r"\bsword\w*|\baxe\b|\bmace\b|\bclub\b|\bdagger\b|\bknife\b|\bhatchet\b|\bflail\b|\bspear\b|\bstaff\b|\bfist\b|\bmelee\b|\bclash\w*|\bimpact\b|\bhit\b|\bthrow\w*|\bslings?\b|\bnet\b|\bentangle\b|\btail\b|\bdart\b", "a weapon", "strikes", "striking"),
    _r("arrow", r"\bbows?\b|\bcrossbow\w*|\barrows?\b", "an arrow", "flies", "flying"),
    _r("magic", r"\bmagic\w*|\bspell\w*|\bheal\w*|\bpetrif\w*|\bslowed\b|\bpoison\w*|\bfaeriefire\b|\bholy\b|\bsci fi\b|\bufo\b|\bwarp\w*|\bzap\w*", "a magic spell", "shimmers", "shimmering"),
    _r("coins", r"\bcoins?\b|\bmoney\b|\bgold\b|\bjingl\w*", "coins", "jingle", "jingling"),
    _r("scratch", r"\bscratch\w*|\bscrap\w*|\beraser\b|\bbrush\w*|\bsmudge\b|\bscrub\w*", "something", "scratches", "scratching"),
    # --- percussion (drum kits) ---------------------------------------------------------
    _r("kick drum", r"\bkick\w*|\bbass ?drum\w*|\bbd\b|\bbassdrum", "a kick drum", "thumps", "thumping", "drum"),
    _r("snare drum", r"\bsnare\w*|\bsd\b|\brim ?shot\w*|\bsidestick\b|\brim\b|\bsnr\b", "a snare drum", "cracks", "cracking", "drum"),
    _r("tom drum", r"\btoms?\b|\bfloor ?tom\b|\bft\b|\btom\w+\b|\btimbale\w*|\btimpani\b|\btaiko\b", "a tom drum", "booms", "booming", "drum"),
    _r("hi-hat", r"\bhi ?-?hats?\b|\bhihat\w*|\bhh\w*\b|\bhats?\b|\bpedal\b|\bho\b|\bchh\b|\bohh\b", "a hi-hat", "ticks", "ticking", "cymbal"),
    _r("crash cymbal", r"\bcrash\w*|\bchina\b|\bsplash\b|\bcymbal\w*|\bcc\b", "a crash cymbal", "crashes", "crashing", "cymbal"),
    _r("ride cymbal", r"\bride\w*|\brc\b|\bbell\b", "a ride cymbal", "rings", "ringing", "cymbal"),
    _r("hand clap", r"\bclap\w*|\bsnaps?\b|\bsnaph\b|\bfinger snap", "hands", "clap", "clapping"),
    _r("cowbell", r"\bcow ?bell\w*|\bcb\d*\b|\bagogo\w*", "a cowbell", "clanks", "clanking", "percussion"),
    _r("hand percussion", r"\bcongas?\b|\bbongos?\b|\bshak\w*|\bmaracas\b|\btambourine\b|\btamb\w*|\bclaves?\b|\bclav\b|\bcajon\b|\bdunun\w*|\bkenkeni\b|\bsangban\b|\bguiro\b|\bcastanets?\b|\btriangle\b|\bwood\w*|\bstick\w*|\bclick\w*|\bdjembe\b|\btabla\b|\bpercussion\b", "hand percussion", "taps", "tapping", "percussion"),
    _r("drum beat", r"\bbeats?\b|\bbreak\w*|\bdrums?\b|\bdrumming\b|\bloop\b|\bjungle\b|\bwardrums\b", "a drum beat", "plays", "playing", "drum"),
    _r("gong", r"\bgongs?\b|\bdong\w*|\bchimes?\b|\bbells\b|\bgamelan\b|\btemple bell\b", "a gong", "rings", "ringing"),
    # --- musical instruments -------------------------------------------------------------
    _r("accordion", r"\baccordion\w*", "an accordion", "plays", "playing", "instrument"),
    _r("cello", r"\bcellos?\b", "a cello", "plays", "playing", "bowed strings"),
    _r("violin", r"\bviolins?\b|\bfiddle\b|\berhu\b|\bpizzicato\b|\bpizzi\b", "a violin", "plays", "playing", "bowed strings"),
    _r("strings", r"\bstrings?\b|\bpads?\b|\bchoir\w*|\bchorus\b|\bambient\b", "a string pad", "swells", "swelling"),
    _r("double bass", r"\bdouble bass\b|\bupright bass\b|\bcontrabass\b", "a double bass", "plays", "playing", "bowed strings"),
    _r("acoustic guitar", r"\bacoustic guitar\b|\bguitars?\b|\bbanjo\w*|\bukulele\b|\bmandolin\b|\bharp\b(?!sichord)", "a guitar", "plays", "playing", "plucked strings"),
    _r("bass", r"\bbass\w*|\btb ?303\b|\btb\b|\bacid\b|\bslap\b|\bbriff\b|\bpluck\w*", "a bass synth", "pulses", "pulsing", "synth"),
    _r("piano", r"\bpianos?\b|\bkeyboard\b|\bharpsichord\w*|\bpiano\w*|\borgan\w*", "a piano", "plays", "playing", "keys"),
    _r("clarinet", r"\bclarinets?\b|\boboe\b", "a clarinet", "plays", "playing", "woodwind"),
    _r("flute", r"\bflutes?\b|\brecorder\b|\bpan ?pipe", "a flute", "plays", "playing", "woodwind"),
    _r("saxophone", r"\bsax\w*", "a saxophone", "plays", "playing", "woodwind"),
    _r("harmonica", r"\bharmonica\w*", "a harmonica", "plays", "playing", "woodwind"),
    _r("trumpet", r"\btrumpets?\b|\bbrass\b|\bfanfare\w*|\bhorns?\b|\bbugle\b|\btrombone\b", "a trumpet", "plays", "playing", "brass"),
    _r("tuba", r"\btubas?\b", "a tuba", "plays", "playing", "brass"),
    _r("xylophone", r"\bxylophone\w*|\bmarimba\b|\bvibraphone\b|\bvibra\b|\bglockenspiel\b", "a xylophone", "plays", "playing", "mallets"),
    _r("synth", r"\bsynth\w*|\btechno\w*|\brave\w*|\bstab\b|\bsweep\b|\bchord\b|\blead\b|\bsquare\b|\bsaw\b|\bjuno\b|\bnord\b|\bkorg\b|\bmoog\b", "a synthesizer", "plays", "playing"),
    _r("music", r"\bmusic\b|\bsymphony\b|\borchestra\w*|\bsong\b|\bsing\w*|\bopera\b|\btune\b|\bmelody\b|\bdidgeridoo\b|\bmariachi\b", "music", "plays", "playing"),
    _r("harmonic tone", r"\bharmonic note\b|\bnote\b|\btone\b|\bsine\b|\bbeep tone\b", "a tone", "sounds", "sounding"),
)

RULES_BY_TAG: dict[str, TagRule] = {r.tag: r for r in RULES}
assert len(RULES_BY_TAG) == len(RULES), "duplicate tag in RULES"


def _alias(tag: str, pattern: str) -> TagRule:
    """A rule of ``RULES`` (same tag, words and parent) recognised by another pattern."""
    return dataclasses.replace(RULES_BY_TAG[tag], pattern=pattern)


# The out-of-domain test set's labels (Tux Paint's stamp sounds, named by their stamp's file:
# 'crow', 'vacuum cleaner'). Kept out of ``RULES`` so that the training corpus's tags and
# captions stay exactly as they were; only the OOD set reads this table. A label the table
# does not place has no sound its name tells us (a gift, a road sign), and is left out.
# Rules that name an event of ``RULES`` reuse its tag (a dog is "dog"); the others have their
# own tag, with a parent so that kindred sounds are never mixed (two birds share "bird").
OOD_RULES: tuple[TagRule, ...] = (
    # Specific before general: a rubber duck is not a duck.
    _r("rubber duck", r"\brubber ?duck\b", "a rubber duck", "squeaks", "squeaking"),
    _alias("frog", r"\bfrogs?\b"),
    _alias("duck", r"\bducks?\b|\bdrake\b"),
    _alias("chicken", r"\bhens?\b"),
    _alias("owl", r"\bowls?\b"),
    _alias("dog", r"\bdogs?\b"),
    _alias("cow", r"\bcows?\b"),
    _alias("sheep", r"\bsheep\b|\brams?\b"),
    _alias("pig", r"\bpigs?\b"),
    _alias("elephant", r"\belephants?\b"),
    _alias("cat", r"\bcats?\b|\bblackcat\b"),
    _alias("crash cymbal", r"\bcymbals?\b"),
    _alias("tom drum", r"\btom ?tom\b"),
    _alias("drum beat", r"\bdrum ?kit\b"),
    _alias("cello", r"\bcellos?\b"),
    _alias("violin", r"\bviolins?\b"),
    _alias("thunder", r"\blightning ?bolt\b"),
    _alias("siren", r"\bfire ?truck\b"),
    # --- birds ---------------------------------------------------------------------------
    _r("rooster", r"\broosters?\b", "a rooster", "crows", "crowing", "bird"),
    _r("crow", r"\bcrows?\b", "a crow", "caws", "cawing", "bird"),
    _r("blackbird", r"\bblackbirds?\b", "a blackbird", "sings", "singing", "bird"),
    _r("lark", r"\blarks?\b", "a lark", "sings", "singing", "bird"),
    _r("cuckoo", r"\bcuckoos?\b", "a cuckoo", "calls", "calling", "bird"),
    _r("goose", r"\bganders?\b|\bgeese\b|\bgoose\b", "a goose", "honks", "honking", "bird"),
    _r("heron", r"\bherons?\b", "a heron", "flies off", "flying off", "bird"),
    _r("rhea", r"\bnandou\b|\brheas?\b", "a rhea", "calls", "calling", "bird"),
    _r("penguin", r"\bpenguins?\b", "a penguin", "squawks", "squawking", "bird"),
    _r("quetzal", r"\bquetzals?\b", "a quetzal", "calls", "calling", "bird"),
    _r("seagull", r"\bseagulls?\b|\bgulls?\b", "a seagull", "cries", "crying", "bird"),
    _r("toucan", r"\b(toucan|tucan)s?\b", "a toucan", "calls", "calling", "bird"),
    _r("turkey", r"\bturkeys?\b", "a turkey", "gobbles", "gobbling", "bird"),
    _r("vulture", r"\bvultures?\b", "a vulture", "screeches", "screeching", "bird"),
    # --- insects -------------------------------------------------------------------------
    _r("bee", r"\bbees?\b", "a bee", "buzzes", "buzzing", "insects"),
    _r("hornet", r"\bhornets?\b", "a hornet", "buzzes", "buzzing", "insects"),
    _r("mosquito", r"\bmosquito(e?s)?\b", "a mosquito", "whines", "whining", "insects"),
    _r("grasshopper", r"\bgrasshoppers?\b", "a grasshopper", "chirps", "chirping", "insects"),
    # --- mammals -------------------------------------------------------------------------
    _r("neighing horse", r"\bhorses?\b", "a horse", "neighs", "neighing", "horse"),
    _r("donkey", r"\bdonkeys?\b", "a donkey", "brays", "braying", "horse"),
    _r("zebra", r"\bzebras?\b", "a zebra", "calls", "calling", "horse"),
    _r("bull", r"\bbulls?\b", "a bull", "bellows", "bellowing", "cow"),
    _r("bison", r"\bbisons?\b", "a bison", "grunts", "grunting", "cow"),
    _r("goat", r"\b(mountain ?)?goats?\b", "a goat", "bleats", "bleating", "sheep"),
    _r("fox", r"\bfox(es)?\b", "a fox", "yelps", "yelping", "canine"),
    _r("sea lion", r"\bsea lions?\b", "a sea lion", "barks", "barking"),  # before "lion"
    _r("lion", r"\blions?\b", "a lion", "roars", "roaring", "big cat"),
    _r("tiger", r"\btigers?\b", "a tiger", "growls", "growling", "big cat"),
    _r("bear", r"\bbears?\b", "a bear", "growls", "growling"),
    _r("chimpanzee", r"\bchimp(anzee)?s?\b", "a chimpanzee", "screams", "screaming", "ape"),
    _r("gorilla", r"\bgorillas?\b", "a gorilla", "grunts", "grunting", "ape"),
    _r("dolphin", r"\bdolphins?\b", "a dolphin", "clicks", "clicking", "whale"),
    _r("orca", r"\borcas?\b", "an orca", "calls", "calling", "whale"),
    _r("whale song", r"\bwhales?\b", "a whale", "sings", "singing", "whale"),
    _r("camel", r"\bcamels?\b|\bdromedar(y|ies)\b", "a camel", "groans", "groaning"),
    _r("deer", r"\bdeer\b|\bdoe\b|\bcaribou\b", "a deer", "calls", "calling"),
    _r("hippopotamus", r"\bhippo(potamus)?\b", "a hippopotamus", "grunts", "grunting"),
    _r("koala", r"\bkoalas?\b", "a koala", "bellows", "bellowing"),
    _r("badger", r"\bbadgers?\b", "a badger", "snarls", "snarling"),
    _r("ferret", r"\bferrets?\b", "a ferret", "chatters", "chattering"),
    _r("wombat", r"\bwombats?\b", "a wombat", "grunts", "grunting"),
    _r("mouse", r"\bmouse\b|\bmice\b", "a mouse", "squeaks", "squeaking"),
    _r("squirrel", r"\bsquirrels?\b", "a squirrel", "chatters", "chattering"),
    # --- instruments, tools and machines ---------------------------------------------------
    _r("bassoon", r"\bbassoons?\b", "a bassoon", "plays", "playing", "woodwind"),
    _r("camera", r"\bcamera\b", "a camera shutter", "clicks", "clicking"),
    _r("scissors", r"\bscissors\b", "scissors", "snip", "snipping"),
    _r("hammer", r"\bhammers?\b|\bmallets?\b", "a hammer", "bangs", "banging"),
    _r("saw", r"\bsaws?\b", "a saw", "cuts wood", "cutting wood"),
    _r("toilet", r"\btoilets?\b", "a toilet", "flushes", "flushing"),
    _r("vacuum cleaner", r"\bvacuum( cleaner)?\b", "a vacuum cleaner", "whirs", "whirring", "appliance motor"),
    _r("washing machine", r"\bwashing machine\b", "a washing machine", "whirs", "whirring", "appliance motor"),
    _r("fireworks", r"\bfireworks?\b", "fireworks", "go off", "going off", "explosion"),
)
OOD_RULES_BY_TAG: dict[str, TagRule] = {r.tag: r for r in OOD_RULES}
assert len(OOD_RULES_BY_TAG) == len(OOD_RULES), "duplicate tag in OOD_RULES"
assert all(r.tag not in RULES_BY_TAG or r == dataclasses.replace(RULES_BY_TAG[r.tag], pattern=r.pattern)
           for r in OOD_RULES), "an OOD rule reuses a tag of RULES with other words"


def normalise_label(text: str) -> str:
    """Lower-case, separators to spaces, digits dropped: 'HiHat_Closed-02.wav' -> 'hihat closed'."""
    text = re.sub(r"\.(wav|flac|ogg|aiff?|mp3)$", "", text.strip(), flags=re.I)
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # camelCase -> camel Case
    text = re.sub(r"[_\-/.,+&!#'()]+", " ", text.lower())
    text = re.sub(r"\d+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Drum-kit instrument names are read with percussion rules only: in a kit, "bow" is a ride
# cymbal's bow and "splash" a cymbal, not an arrow or water.
PERCUSSION_TAGS = frozenset(
    r.tag for r in RULES if r.parent in ("drum", "cymbal", "percussion") or r.tag in ("hand clap", "gong")
)


def rule_for_label(label: str, allowed: frozenset[str] | None = None) -> TagRule | None:
    """The first rule (among ``allowed`` tags, if given) matching the normalised label."""
    norm = normalise_label(label)
    for rule in RULES:
        if allowed is not None and rule.tag not in allowed:
            continue
        if _compiled(rule.pattern).search(norm):
            return rule
    return None


def tag_for_label(label: str, allowed: frozenset[str] | None = None) -> tuple[str, ...]:
    """Unified tags (tag and its parent) for one label; () when no rule matches."""
    rule = rule_for_label(label, allowed)
    return rule.tags if rule else ()


def tags_from_text(text: str) -> tuple[str, ...]:
    """Every unified tag (with parents) mentioned in a free-text caption or label list."""
    norm = normalise_label(text)
    out: list[str] = []
    for rule in RULES:
        if _compiled(rule.pattern).search(norm):
            out.extend(t for t in rule.tags if t not in out)
    return tuple(out)


def ood_tag_for_label(label: str) -> tuple[str, ...]:
    """Unified tags for a label of the out-of-domain set (``OOD_RULES`` only); () when none matches."""
    norm = normalise_label(label)
    rule = next((r for r in OOD_RULES if _compiled(r.pattern).search(norm)), None)
    return rule.tags if rule else ()


def rule_for_tag(tag: str) -> TagRule:
    """The rule (words for captions) of a tag of ``RULES`` or ``OOD_RULES``."""
    return RULES_BY_TAG.get(tag) or OOD_RULES_BY_TAG[tag]


def tags_overlap(a: tuple[str, ...] | list[str], b: tuple[str, ...] | list[str]) -> bool:
    return bool(set(a) & set(b))
