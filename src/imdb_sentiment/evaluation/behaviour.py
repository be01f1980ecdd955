"""Behavioural tests of a sentiment classifier, in the style of CheckList (Ribeiro et al. 2020).

Test accuracy says how often a model is right on reviews like its training data; this
suite says *what* it can and cannot do. Each capability (negation, contrast, intensity,
a verdict in the last sentence, comparisons, short texts, texts that are not movie
reviews, irrelevant edits) holds cases that a careful reader labels with certainty.

Cases come from small template tables (film aspects, adjectives, modifiers, frames)
and from hand-written sentences. Where a table gives more combinations than are
wanted, a `random.Random` seeded with the capability's name picks them, so
`behaviour_cases()` returns the same list in the same order on every call. No model is
needed here: score every text, then give the 0/1 labels to `behaviour_pass_rates`.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

CAPABILITIES: tuple[str, ...] = (
    "negation",
    "negated_negative",
    "contrast",
    "intensity",
    "last_sentence",
    "comparison",
    "short",
    "non_review",
    "irrelevant_change",
)
KINDS: tuple[str, ...] = ("label", "same")
TEXTS_PER_KIND = {"label": 1, "same": 2}
POSITIVE, NEGATIVE = 1, 0


@dataclass(frozen=True)
class Case:
    """Texts that a person labels `expected` (1 positive, 0 negative).

    kind "label": one text that must get `expected`; kind "same": an original and a
    changed text (names, numbers, case, a typo...) that must both get `expected`.
    """

    capability: str
    texts: tuple[str, ...]
    expected: int
    kind: str = "label"

    def __post_init__(self) -> None:
        if self.capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {self.capability!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {KINDS}")
        if len(self.texts) != TEXTS_PER_KIND[self.kind]:
            raise ValueError(
                f"a {self.kind!r} case needs {TEXTS_PER_KIND[self.kind]} "
                f"text(s), got {len(self.texts)}"
            )
        if self.expected not in (POSITIVE, NEGATIVE):
            raise ValueError(f"expected must be 0 or 1, got {self.expected!r}")


def _rng(capability: str) -> random.Random:
    # a string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED
    return random.Random(f"behaviour/{capability}")


def _fill(
    rng: random.Random, frames: Sequence[str], count: int, **tables: Sequence[str | tuple[str, ...]]
) -> list[str]:
    """`count` distinct texts: frames filled from combinations of the tables, drawn by `rng`.

    A table whose rows are tuples fills several slots at once: ``aspect_adj=[("plot",
    "clever")]`` fills {aspect} and {adj}, so that an adjective only meets aspects it suits.
    """
    # (frame, rows) pairs, in the order of itertools.product(frames, *tables.values())
    combos = list(itertools.product(frames, itertools.product(*tables.values())))
    texts = []
    for frame, rows in rng.sample(combos, len(combos)):
        slots: dict[str, str] = {}
        for name, row in zip(tables, rows):
            slots.update(zip(name.split("_"), row) if isinstance(row, tuple) else [(name, row)])
        texts.append(_capitalise(frame.format(**slots)))
    unique = list(dict.fromkeys(texts))
    if len(unique) < count:
        raise ValueError(f"the tables give only {len(unique)} distinct texts, {count} wanted")
    return unique[:count]


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _label_cases(capability: str, texts: Iterable[str], expected: int) -> list[Case]:
    return [Case(capability, (text,), expected) for text in texts]


def _interleave(first: list[Case], second: list[Case]) -> list[Case]:
    # alternating labels, so that any prefix of a capability is near balanced
    mixed = [case for pair in itertools.zip_longest(first, second) for case in pair]
    return [case for case in mixed if case is not None]


# --- negation: "not" before a positive word; and negations that praise -------------

_POSITIVE_ADJECTIVES_BY_ASPECT = {
    "acting": ("good", "convincing", "impressive"),
    "plot": ("interesting", "clever", "engaging"),
    "script": ("funny", "clever", "good"),
    "ending": ("satisfying", "moving", "good"),
    "soundtrack": ("memorable", "good", "pleasant"),
    "dialogue": ("witty", "believable", "natural"),
    "film": ("good", "enjoyable", "entertaining"),
    "story": ("engaging", "original", "interesting"),
    "direction": ("inspired", "good", "confident"),
}
_NEGATED_POSITIVE_FRAMES = (
    "The {aspect} was not {adj}.",
    "The {aspect} wasn't {adj} at all.",
    "There was nothing {adj} about the {aspect}.",
    "I did not find the {aspect} {adj}.",
    "The {aspect} is not {adj} in any way.",
    "I can't say the {aspect} was {adj}.",
)
_NEGATED_LIKING_FRAMES = ("I didn't {verb} the {aspect}.", "I did not {verb} the {aspect} at all.")
_NEGATED_LIKING_VERBS = ("like", "enjoy", "care for")
_NEGATED_LIKING_ASPECTS = ("acting", "plot", "ending", "film", "soundtrack", "characters", "humour")
_NEGATION_NEGATIVE_BY_HAND = (
    "I didn't like the acting at all.",
    "Not a single scene worked for me.",
    "Nothing about this movie was enjoyable.",
    "It isn't funny, it isn't clever and it isn't worth seeing.",
    "I wouldn't watch it again if you paid me.",
    "No one in the cast gave a convincing performance.",
)
_NEGATION_POSITIVE_BY_HAND = (
    "I can't recommend this film enough.",
    "I couldn't take my eyes off the screen.",
    "I wouldn't change a single thing about it.",
    "I can't wait to watch it again.",
    "I didn't want it to end.",
    "I have never enjoyed a film more.",
    "I've never laughed so hard at a movie.",
    "You won't find a better comedy this year.",
    "Nobody could have played the lead better.",
    "No film this year moved me as much as this one.",
    "I don't remember the last time a film made me this happy.",
    "It doesn't get much better than this.",
)
_UNBEATABLE_PARTS = ("ending", "cast", "soundtrack", "script", "final scene")


def _negation() -> list[Case]:
    rng = _rng("negation")
    adjective_pairs = [
        (aspect, adj) for aspect, adjs in _POSITIVE_ADJECTIVES_BY_ASPECT.items() for adj in adjs
    ]
    negated = _fill(rng, _NEGATED_POSITIVE_FRAMES, 14, aspect_adj=adjective_pairs)
    disliked = _fill(
        rng, _NEGATED_LIKING_FRAMES, 5, verb=_NEGATED_LIKING_VERBS, aspect=_NEGATED_LIKING_ASPECTS
    )
    praise = [f"I couldn't have asked for a better {part}." for part in _UNBEATABLE_PARTS]
    negative = _label_cases(
        "negation", [*negated, *disliked, *_NEGATION_NEGATIVE_BY_HAND], NEGATIVE
    )
    positive = _label_cases("negation", [*_NEGATION_POSITIVE_BY_HAND, *praise], POSITIVE)
    return _interleave(negative, positive)


# --- negated negatives: "not bad" is praise, "not just bad" is not ------------------

# no "bad" here: "the acting was never bad" is faint praise, not a clear positive
_NEGATIVE_ADJECTIVES_BY_ASPECT = {
    "film": ("boring", "disappointing", "dull"),
    "plot": ("boring", "dull", "predictable"),
    "acting": ("wooden", "weak", "stiff"),
    "pacing": ("slow", "tedious", "sluggish"),
    "ending": ("disappointing", "predictable", "clichéd"),
    "script": ("dull", "clumsy", "lazy"),
    "movie": ("boring", "tiresome", "dull"),
}
_NEGATED_NEGATIVE_FRAMES = (
    "The {aspect} was not {adj} at all.",
    "The {aspect} was never {adj}.",
    "The {aspect} is anything but {adj}.",
    "I didn't find the {aspect} {adj} in the slightest.",
)
_NEGATED_NEGATIVE_POSITIVE_BY_HAND = (
    "It was not bad at all.",
    "I can't say I disliked it; I enjoyed every minute.",
    "Not a single dull moment from start to finish.",
    "I never once looked at my watch.",
    "I didn't regret watching it for a second.",
    "There wasn't a weak performance in the whole cast.",
    "I was never bored, not even for a minute.",
    "Nothing about it disappointed me.",
    "I have no complaints about this film at all.",
    "I wasn't disappointed in the slightest.",
    "Not once did the story lose my attention.",
)
# the surface form of a negated negative, but the negation only makes it worse
_NOT_JUST_BAD = (
    "It wasn't just bad, it was unbearable.",
    "The plot wasn't merely boring; it was insulting.",
    "The film isn't only dull, it is painfully long too.",
    "The acting was not simply weak, it was embarrassing.",
    "I didn't merely dislike it; I hated every minute.",
    "The ending is not just disappointing, it is infuriating.",
    "The script isn't just clumsy, it's lazy and insulting.",
    "The jokes weren't just unfunny, they were offensive.",
    "The movie was not only boring but also far too long.",
    "Not only was the story dull, the acting was terrible too.",
    "The pacing is not only slow, it is exhausting.",
    "I didn't just find it boring, I found it unwatchable.",
    "It isn't bad in a fun way; it is simply dreadful.",
)


def _negated_negative() -> list[Case]:
    rng = _rng("negated_negative")
    adjective_pairs = [
        (aspect, adj) for aspect, adjs in _NEGATIVE_ADJECTIVES_BY_ASPECT.items() for adj in adjs
    ]
    praised = _fill(rng, _NEGATED_NEGATIVE_FRAMES, 18, aspect_adj=adjective_pairs)
    positive = _label_cases(
        "negated_negative", [*praised, *_NEGATED_NEGATIVE_POSITIVE_BY_HAND], POSITIVE
    )
    negative = _label_cases("negated_negative", _NOT_JUST_BAD, NEGATIVE)
    return _interleave(positive, negative)


# --- contrast: the clause that carries the verdict decides --------------------------

_FLAWS = (
    ("opening", "slow"),
    ("soundtrack", "forgettable"),
    ("dialogue", "clunky in places"),
    ("running time", "a little long"),
    ("supporting cast", "uneven"),
    ("budget", "obviously small"),
    ("first act", "confusing"),
    ("villain", "rather thin"),
)
_MERITS = (
    ("cast", "talented"),
    ("cinematography", "gorgeous"),
    ("soundtrack", "lovely"),
    ("lead actress", "charming"),
    ("premise", "promising"),
    ("costume design", "beautiful"),
    ("opening scene", "gripping"),
    ("set design", "impressive"),
)
_GOOD_VERDICTS = (
    "the film as a whole is a joy to watch",
    "overall it is a wonderful film",
    "it is still one of the best films of the year",
    "the story is moving and beautifully told",
    "I loved every minute of it",
)
_BAD_VERDICTS = (
    "the film as a whole is a tedious mess",
    "overall it is a dull, lifeless film",
    "it is still one of the worst films of the year",
    "the story is hollow and badly told",
    "the movie is a chore to sit through",
)
_CONTRAST_FRAMES = (
    "The {aspect} is {adj}, but {verdict}.",
    "The {aspect} is {adj}, yet {verdict}.",
    "Although the {aspect} is {adj}, {verdict}.",
    "Though the {aspect} is {adj}, {verdict}.",
    "The {aspect} is {adj}. However, {verdict}.",
    "{verdict}, even though the {aspect} is {adj}.",
)
_CONTRAST_POSITIVE_BY_HAND = (
    "The start was slow, but the ending was wonderful.",
    "The special effects are dated; however, the story is so moving that I didn't care.",
    "It has a few rough edges, yet it is the most charming film I have seen in years.",
    "Some jokes fall flat, though overall it is a warm, funny and lovely film.",
)
_CONTRAST_NEGATIVE_BY_HAND = (
    "Although the cast is talented, the film is a tedious mess.",
    "The first hour was gripping, but the second half fell apart and I left disappointed.",
    "The actors try hard, but the script gives them nothing to work with and the result is dull.",
    "It looks beautiful, but it is empty, slow and utterly forgettable.",
)


def _contrast() -> list[Case]:
    rng = _rng("contrast")
    good = _fill(rng, _CONTRAST_FRAMES, 16, aspect_adj=_FLAWS, verdict=_GOOD_VERDICTS)
    bad = _fill(rng, _CONTRAST_FRAMES, 16, aspect_adj=_MERITS, verdict=_BAD_VERDICTS)
    positive = _label_cases("contrast", [*good, *_CONTRAST_POSITIVE_BY_HAND], POSITIVE)
    negative = _label_cases("contrast", [*bad, *_CONTRAST_NEGATIVE_BY_HAND], NEGATIVE)
    return _interleave(positive, negative)


# --- intensity: intensifiers and diminishers keep the sign --------------------------

# a modifier only goes with adjectives it suits: "utterly brilliant", never "slightly brilliant"
_POSITIVE_INTENSITY = (
    (
        ("absolutely", "utterly", "truly", "simply"),
        ("brilliant", "wonderful", "superb", "magnificent"),
    ),
    (
        ("really", "very", "incredibly", "extremely", "genuinely", "remarkably"),
        ("good", "enjoyable", "entertaining", "moving", "funny"),
    ),
    (("fairly", "pretty", "quite", "rather"), ("good", "enjoyable", "entertaining", "charming")),
)
_NEGATIVE_INTENSITY = (
    (
        ("absolutely", "utterly", "truly", "simply"),
        ("terrible", "awful", "dreadful", "unwatchable"),
    ),
    (("really", "very", "incredibly", "extremely"), ("boring", "dull", "tedious", "disappointing")),
    (
        ("slightly", "somewhat", "a bit", "a little", "rather", "mildly"),
        ("disappointing", "dull", "boring", "tedious", "tiresome"),
    ),
)
_INTENSITY_FRAMES = (
    "Overall, the film is {mod} {adj}.",
    "I found the movie {mod} {adj}.",
    "The whole thing was {mod} {adj}.",
    "Honestly, this film is {mod} {adj}.",
    "It is {article} {mod} {adj} film.",
)
_INTENSITY_POSITIVE_BY_HAND = (
    "Really quite good.",
    "It's really, really good!",
    "Quite simply one of the most beautiful films ever made.",
    "An extremely well acted and deeply moving drama.",
    "A thoroughly enjoyable, very funny comedy.",
)
_INTENSITY_NEGATIVE_BY_HAND = (
    "A bit too long and rather dull.",
    "Very, very dull.",
    "Far too long and incredibly boring.",
    "The ending was slightly disappointing and the rest was a little dull.",
    "Somewhat tedious and more than a little pretentious.",
)


def _intensity_texts(
    rng: random.Random, groups: Sequence[tuple[Sequence[str], Sequence[str]]], count: int
) -> list[str]:
    texts = []
    for frame, (mods, adjs) in itertools.product(_INTENSITY_FRAMES, groups):
        for mod, adj in itertools.product(mods, adjs):
            if "{article}" in frame and " " in mod:
                continue  # "a bit dull film" is not English
            article = "an" if mod[0] in "aeiou" else "a"
            texts.append(frame.format(article=article, mod=mod, adj=adj))
    return rng.sample(texts, count)


def _intensity() -> list[Case]:
    rng = _rng("intensity")
    positive = _label_cases(
        "intensity",
        [*_intensity_texts(rng, _POSITIVE_INTENSITY, 15), *_INTENSITY_POSITIVE_BY_HAND],
        POSITIVE,
    )
    negative = _label_cases(
        "intensity",
        [*_intensity_texts(rng, _NEGATIVE_INTENSITY, 15), *_INTENSITY_NEGATIVE_BY_HAND],
        NEGATIVE,
    )
    return _interleave(positive, negative)


# --- last sentence: the first impression turns, and the verdict comes last ----------

_HOPEFUL_OPENINGS = (
    "I expected a masterpiece.",
    "The trailer looked fantastic.",
    "I had high hopes for this one.",
    "Everyone told me it was brilliant.",
    "I love the director's earlier films.",
    "The first ten minutes were promising.",
    "The cast is full of actors I admire.",
    "The opening scene is beautifully shot.",
)
_LETDOWNS = ("Sadly,", "Unfortunately,", "In the end,", "But")
_BAD_ENDINGS = (
    "it was a dull, lifeless mess.",
    "it turned out to be a boring, pointless slog.",
    "I was bored out of my mind.",
    "I regretted buying a ticket.",
    "the film was a tedious waste of time.",
)
_DOUBTFUL_OPENINGS = (
    "I expected to be bored.",
    "The trailer looked awful.",
    "I had very low expectations.",
    "My friends said it was boring.",
    "I usually can't stand musicals.",
    "The first ten minutes were slow.",
    "The reviews were terrible.",
    "The opening scene is confusing.",
)
_TURNAROUNDS = ("In the end,", "By the end,", "To my surprise,", "But")
_GOOD_ENDINGS = (
    "I was moved and delighted.",
    "it turned out to be a wonderful, moving film.",
    "I loved every minute of it.",
    "it was one of the best films I have seen this year.",
    "I was completely won over.",
)
_LAST_SENTENCE_NEGATIVE_BY_HAND = (
    "I expected to love it. Sadly, it was a dull, lifeless mess.",
    "I expected to love it. The cast is wonderful and the trailer was exciting. "
    "Sadly, the film itself is a dull, lifeless mess.",
    "The first half hour is gripping. Then the plot falls apart. "
    "By the end I just wanted it to be over.",
    "What a promising start. The first act is funny and sharp. "
    "Unfortunately, everything after it is tedious and stupid.",
    "I really wanted to like this film. I love the book. "
    "It is, sadly, a clumsy and boring adaptation.",
    "The reviews were glowing. I went in excited. "
    "I walked out bored, annoyed and sorry I had paid.",
)
_LAST_SENTENCE_POSITIVE_BY_HAND = (
    "I expected to hate it. In the end, I was moved and delighted.",
    "The first twenty minutes are slow and confusing. Stick with it. "
    "The rest is a gripping, beautiful film.",
    "I almost walked out after the opening scene. I am so glad I stayed. "
    "It is one of the best films I have ever seen.",
    "My friends dragged me to see it. I was grumpy and tired. "
    "Two hours later I was laughing and cheering with everyone else.",
    "I hate horror films. I always have. This one is brilliant from start to finish.",
    "The trailer made it look silly. It isn't. It is a smart, warm and wonderful film.",
)


def _last_sentence() -> list[Case]:
    rng = _rng("last_sentence")
    frames = ("{opening} {connector} {verdict}",)
    bad = _fill(
        rng, frames, 14, opening=_HOPEFUL_OPENINGS, connector=_LETDOWNS, verdict=_BAD_ENDINGS
    )
    good = _fill(
        rng, frames, 14, opening=_DOUBTFUL_OPENINGS, connector=_TURNAROUNDS, verdict=_GOOD_ENDINGS
    )
    negative = _label_cases("last_sentence", [*bad, *_LAST_SENTENCE_NEGATIVE_BY_HAND], NEGATIVE)
    positive = _label_cases("last_sentence", [*good, *_LAST_SENTENCE_POSITIVE_BY_HAND], POSITIVE)
    return _interleave(negative, positive)


# --- comparison: better or worse than something decides ----------------------------

_COMPARED = (
    ("It", "the original"),
    ("This sequel", "the first film"),
    ("The remake", "the original"),
    ("This adaptation", "the book"),
    ("The director's new film", "her last one"),
    ("This version", "the 1978 version"),
)
_BETTER_FRAMES = (
    "{subject} is far better than {reference}.",
    "{subject} is even better than {reference}.",
    "{subject} is a big improvement on {reference}.",
    "{subject} easily beats {reference}.",
    "{subject} is much more exciting than {reference}.",
    "{subject} makes {reference} look like a rough draft.",
)
_WORSE_FRAMES = (
    "{subject} is much worse than {reference}.",
    "{subject} is nowhere near as good as {reference}.",
    "{subject} is not half as good as {reference}.",
    "{subject} doesn't come close to {reference}.",
    "{subject} is a huge step down from {reference}.",
    "{subject} is far duller than {reference}.",
)
_COMPARISON_POSITIVE_BY_HAND = (
    "Far better than the original.",
    "The best film I have seen this year, by a mile.",
    "Few films this decade come close to it.",
    "Better than I ever dared to hope.",
    "Funnier than anything else in cinemas right now.",
    "More moving than any documentary I have seen.",
)
_COMPARISON_NEGATIVE_BY_HAND = (
    "Nowhere near as good as the book.",
    "I've seen better student films.",
    "The worst sequel I have ever sat through.",
    "Even the trailer was more exciting than the film.",
    "I have seen better acting in a school play.",
    "Worse than I feared, and I feared the worst.",
)


def _comparison() -> list[Case]:
    rng = _rng("comparison")
    better = _fill(rng, _BETTER_FRAMES, 14, subject_reference=_COMPARED)
    worse = _fill(rng, _WORSE_FRAMES, 14, subject_reference=_COMPARED)
    positive = _label_cases("comparison", [*better, *_COMPARISON_POSITIVE_BY_HAND], POSITIVE)
    negative = _label_cases("comparison", [*worse, *_COMPARISON_NEGATIVE_BY_HAND], NEGATIVE)
    return _interleave(positive, negative)


# --- short texts: 3 to 15 words ------------------------------------------------------

_SHORT_POSITIVE = (
    "I loved it.",
    "Great cast, great story.",
    "An absolute masterpiece.",
    "Funny, warm and beautifully made.",
    "Best film of the year.",
    "I laughed from start to finish.",
    "Stunning visuals and a wonderful score.",
    "Highly recommended for everyone.",
    "Brilliant. Just brilliant.",
    "What a wonderful film!",
    "Ten out of ten, would watch again.",
    "A heartwarming little gem.",
    "Moving, clever and beautifully acted.",
    "I enjoyed every single minute.",
    "A must see.",
    "Superb performances all round.",
    "Pure joy from beginning to end.",
    "GREAT MOVIE, LOVED IT!",
    "this film made my week",
    "Gorgeous, gripping and unforgettable.",
)
_SHORT_NEGATIVE = (
    "A total waste of two hours.",
    "Dull and far too long.",
    "Terrible acting, awful script.",
    "I hated every minute.",
    "Worst film of the year.",
    "Boring, boring, boring.",
    "Avoid at all costs.",
    "A lazy, cynical cash grab.",
    "I fell asleep halfway through.",
    "Painfully unfunny from start to finish.",
    "What a mess.",
    "Completely pointless and badly acted.",
    "I want my money back.",
    "The plot makes no sense whatsoever.",
    "One star is too generous.",
    "Awful. Just awful.",
    "Not worth your time.",
    "Clumsy, loud and forgettable.",
    "A dreary, joyless slog.",
    "so bad i walked out",
)


def _short() -> list[Case]:
    return _interleave(
        _label_cases("short", _SHORT_POSITIVE, POSITIVE),
        _label_cases("short", _SHORT_NEGATIVE, NEGATIVE),
    )


# --- not a movie review: the sentiment must carry over to other things --------------

_NON_REVIEW_POSITIVE = (
    "Best pizza in town, friendly staff.",
    "The hotel room was spotless and the view was stunning.",
    "This blender is quiet, powerful and easy to clean.",
    "The delivery arrived a day early and everything was perfect.",
    "What a beautiful sunny day; I feel wonderful.",
    "The app is fast, simple and does exactly what I need.",
    "I couldn't put this novel down; what a gripping story.",
    "The nurse was kind and made me feel safe.",
    "Our waiter was charming and the pasta was delicious.",
    "These headphones sound amazing and fit comfortably.",
    "The customer support team fixed my problem in minutes.",
    "Lovely little café with excellent coffee.",
    "The hike was breathtaking and the weather was perfect.",
    "My new running shoes are light and very comfortable.",
    "The concert last night was fantastic.",
    "Great value for money, I would buy it again.",
    "The museum tour was fascinating and well organised.",
    "Check-in was quick and the staff were so helpful.",
    "This laptop boots in seconds and the battery lasts all day.",
    "The cinema's new seats are wonderfully comfortable.",
)
_NON_REVIEW_NEGATIVE = (
    "The phone's battery died after a week.",
    "The food was cold and the waiter was rude.",
    "Our hotel room smelled of smoke and the shower was broken.",
    "The app crashes every time I open it.",
    "The package arrived two weeks late and damaged.",
    "It rained all day and the trip was miserable.",
    "Customer service kept me on hold for an hour and then hung up.",
    "This book is dull, repetitive and far too long.",
    "The chair fell apart after a month.",
    "Overpriced, bland food and a very long wait.",
    "The charger stopped working after two days.",
    "The gym is dirty and half the machines are broken.",
    "Worst haircut I have ever had.",
    "The flight was delayed six hours and nobody told us why.",
    "The update made the app slow and full of bugs.",
    "The coffee was burnt and the croissant was stale.",
    "My order was wrong, and the refund never came.",
    "The apartment was noisy, cramped and nothing like the photos.",
    "The cinema was freezing and the popcorn was stale.",
    "Terrible signal, dropped calls all day.",
)


def _non_review() -> list[Case]:
    return _interleave(
        _label_cases("non_review", _NON_REVIEW_POSITIVE, POSITIVE),
        _label_cases("non_review", _NON_REVIEW_NEGATIVE, NEGATIVE),
    )


# --- irrelevant change: names, titles, numbers, case, punctuation, a typo -----------

_NAMES = (
    "Anna Keller",
    "James Carter",
    "Aisha Khan",
    "Wei Chen",
    "Olga Petrova",
    "Kwame Mensah",
    "Maria Lopez",
    "Rahul Gupta",
    "Sofia Rossi",
    "John Smith",
)
_TITLES = (
    "The Long Road",
    "Midnight Harbor",
    "Paper Birds",
    "The Quiet Year",
    "Red Window",
    "Northern Lights",
    "The Last Orchard",
    "Glass City",
)
_NUMBERS = ("two", "three", "four", "five")
_YEARS = tuple(str(year) for year in range(1962, 2024, 7))
_SLOTS = {"name": _NAMES, "title": _TITLES, "number": _NUMBERS, "year": _YEARS}
_SLOT_REVIEWS = (
    ("{name} is wonderful in {title}, one of the best films of {year}.", POSITIVE),
    ("{title} is a dull, lifeless film and {name} looks bored throughout.", NEGATIVE),
    ("I saw {title} in {year} and loved every minute of it.", POSITIVE),
    ("{title} wasted {number} hours of my life.", NEGATIVE),
    ("{name} gives the performance of a lifetime in {title}.", POSITIVE),
    ("{name} is badly miscast and {title} never recovers.", NEGATIVE),
    ("I have watched {title} {number} times and it still makes me cry with joy.", POSITIVE),
    ("{title} ({year}) is a clumsy, boring mess.", NEGATIVE),
    ("Director {name} has made a warm, funny and beautiful film.", POSITIVE),
    ("{name}'s new film is the worst thing I have seen in {number} years.", NEGATIVE),
)
_PLAIN_REVIEWS = (
    ("A beautiful, moving film with a wonderful cast.", POSITIVE),
    ("A boring, pointless film with a terrible script.", NEGATIVE),
    ("I loved this movie, it made me laugh and cry.", POSITIVE),
    ("I hated this movie, it was a waste of time.", NEGATIVE),
    ("The acting is superb and the story is gripping.", POSITIVE),
    ("The acting is wooden and the story is dull.", NEGATIVE),
    ("One of the funniest comedies I have ever seen.", POSITIVE),
    ("One of the worst comedies I have ever seen.", NEGATIVE),
    ("Smart, warm and brilliantly directed.", POSITIVE),
    ("Clumsy, loud and badly directed.", NEGATIVE),
    ("An excellent thriller, tense from start to finish.", POSITIVE),
    ("A tedious thriller with no tension at all.", NEGATIVE),
    ("The music is gorgeous and the ending is perfect.", POSITIVE),
    ("The music is grating and the ending is awful.", NEGATIVE),
    ("I enjoyed every minute of this charming film.", POSITIVE),
    ("I was bored through every minute of this dreary film.", NEGATIVE),
    ("A delightful family film, highly recommended.", POSITIVE),
    ("An unpleasant mess, avoid it.", NEGATIVE),
    ("Wonderful performances, a clever script and stunning photography.", POSITIVE),
    ("Awful performances, a stupid script and ugly photography.", NEGATIVE),
)


def _swap_letters(rng: random.Random, text: str) -> str:
    """A typo a reader still reads through: two neighbouring letters of one longer word swapped."""
    words = list(re.finditer(r"[A-Za-z]{5,}", text))
    while True:
        word = rng.choice(words)
        at = rng.randrange(word.start() + 1, word.end() - 2)
        if text[at] != text[at + 1]:
            return text[:at] + text[at + 1] + text[at] + text[at + 2 :]


_SURFACE_CHANGES: tuple[Callable[[random.Random, str], str], ...] = (
    lambda rng, text: text.lower(),
    lambda rng, text: text.upper(),
    lambda rng, text: text.rstrip(".") + "!",
    lambda rng, text: text.replace(",", "").rstrip("."),
    _swap_letters,
)


def _irrelevant_change() -> list[Case]:
    rng = _rng("irrelevant_change")
    cases = []
    for frame, expected in _SLOT_REVIEWS:
        slots = re.findall(r"\{(\w+)\}", frame)
        for changed_slot in slots:
            values = {slot: rng.choice(_SLOTS[slot]) for slot in slots}
            others = [value for value in _SLOTS[changed_slot] if value != values[changed_slot]]
            changed = {**values, changed_slot: rng.choice(others)}
            texts = (frame.format(**values), frame.format(**changed))
            cases.append(Case("irrelevant_change", texts, expected, "same"))
    for index, (text, expected) in enumerate(_PLAIN_REVIEWS):
        change = _SURFACE_CHANGES[index % len(_SURFACE_CHANGES)]
        cases.append(Case("irrelevant_change", (text, change(rng, text)), expected, "same"))
    return cases


_BUILDERS: dict[str, Callable[[], list[Case]]] = {
    "negation": _negation,
    "negated_negative": _negated_negative,
    "contrast": _contrast,
    "intensity": _intensity,
    "last_sentence": _last_sentence,
    "comparison": _comparison,
    "short": _short,
    "non_review": _non_review,
    "irrelevant_change": _irrelevant_change,
}


def behaviour_cases() -> list[Case]:
    """Every case, capability by capability in CAPABILITIES order; the same list on every call."""
    return [case for capability in CAPABILITIES for case in _BUILDERS[capability]()]


def behaviour_pass_rates(
    cases: Sequence[Case], labels: Sequence[Sequence[int]]
) -> dict[str, float]:
    """Pass rate per capability (keys in CAPABILITIES order, only those with cases).

    `labels[i]` holds the predicted 0/1 label of each text of `cases[i]`; a case passes
    when every one of its texts gets the case's expected label.
    """
    if len(cases) != len(labels):
        raise ValueError(f"{len(cases)} cases but {len(labels)} label lists")
    passed = dict.fromkeys(CAPABILITIES, 0)
    total = dict.fromkeys(CAPABILITIES, 0)
    for index, (case, predicted) in enumerate(zip(cases, labels)):
        if case.capability not in total:
            raise ValueError(f"case {index} has unknown capability {case.capability!r}")
        if isinstance(predicted, (str, bytes)) or not hasattr(predicted, "__len__"):
            raise ValueError(f"case {index}: labels must be a sequence of 0/1, got {predicted!r}")
        if len(predicted) != len(case.texts):
            raise ValueError(
                f"case {index} ({case.capability}) has {len(case.texts)} text(s) "
                f"but {len(predicted)} label(s)"
            )
        wrong = [label for label in predicted if label not in (0, 1)]
        if wrong:
            raise ValueError(
                f"case {index} ({case.capability}): labels must be 0 or 1, got {wrong}"
            )
        total[case.capability] += 1
        passed[case.capability] += all(label == case.expected for label in predicted)
    return {
        capability: passed[capability] / total[capability]
        for capability in CAPABILITIES
        if total[capability]
    }
