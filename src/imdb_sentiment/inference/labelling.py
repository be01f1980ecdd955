"""Using the trained model: score reviews, label them, explain a score by occlusion.

Shared by the `imdb-sentiment` command line and the Streamlit app, so both
label, validate and explain reviews the same way. Scoring goes through
`scoring.predict_texts`, the same path evaluation uses.
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import cast

from imdb_sentiment.core import startup
from imdb_sentiment.core.errors import (
    ArgumentError,
    Constraint,
    PipelineError,
    check_arguments,
    interval,
    shown,
)
from imdb_sentiment.inference.defaults import (
    DECISION_THRESHOLD,
    PROBABILITY_DECIMALS,
    SCORING_BATCH_SIZE,
)

with startup.quiet_tensorflow():  # no absl, oneDNN or CUDA lines, as in the API and the CLI
    import keras
    import numpy as np
    import tensorflow as tf

    from imdb_sentiment.inference.scoring import SCORING_WORKERS, predict_texts
    from imdb_sentiment.modeling.text import APOSTROPHES, WindowVectorization, standardize

POSITIVE, NEGATIVE = "positive", "negative"
EMPTY_REVIEW = "empty review (no text to classify)"
NO_WORDS = "no words to classify (only punctuation, symbols or markup)"
UNKNOWN_WORDS = (
    "none of its words is in the model's vocabulary (it reads English movie "
    "reviews), so any score would be a guess"
)
# A quick look for a known word: lower-cased runs of letters, digits and apostrophes. It
# can only miss a review with no known word, never flag one that has one; the model's own
# vectorizer confirms every review it finds no known word in (see `unknown_only`), a group of
# _SUSPECTS_PER_CALL at a time
_QUICK_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# every apostrophe read as `'`, as `standardize` reads it (APOSTROPHES is a character class)
_APOSTROPHE_FOLD = str.maketrans(dict.fromkeys(APOSTROPHES[1:-1], "'"))
_SUSPECTS_PER_CALL = 256
# The markup `text.standardize` blanks out, or a letter or digit: the first match that is
# not markup shows a text has a word (see `wordless`)
_MARKUP_OR_WORD = re.compile(r"<[^>]{0,100}>|&[a-z]{2,8};|&#\d{1,6};|[^\W_]", re.IGNORECASE)
# Texts this long are scored one at a time. The project's models cut each text to the
# tokens they read before padding a batch, but a model that pads first would build a
# tensor of hundreds of MB from a 1 MB review (~200k tokens) batched with 255 others.
# Results do not change, because padding does not, with masking (`train.mask_padding`) on.
LONG_TEXT_CHARS = 100_000
# Occlusion's bounds, whatever the text: words analysed (each one variant to score), characters
# of the text's read end looked at, and variants built and scored at a time.
MAX_OCCLUSION_WORDS = 500
MAX_OCCLUSION_CHARS = 20_000
OCCLUSION_BATCH = 64


KERAS_MODEL = Constraint((keras.Model,), "a loaded Keras model")
_TEXTS = "an ordered iterable of str, such as a list (wrap a single review in a list)"


def _texts_problem(value: object) -> str | None:
    """Iterables whose items are not the reviews, or come in no order."""
    if isinstance(value, str | bytes):
        return f"must be {_TEXTS}, not one string or bytes"
    if getattr(value, "ndim", None) == 0:  # NumPy's 0-d array is iterable only by its type
        return f"must be {_TEXTS}, not a 0-d array (one value)"
    if isinstance(value, Mapping) or hasattr(value, "columns"):  # a dict, a DataFrame
        return (
            f"must be {_TEXTS}: a mapping or a table iterates over its keys or column names, "
            "not its reviews (pass a column, e.g. frame['text'], or its values)"
        )
    if isinstance(value, Set):
        return f"must be {_TEXTS}: a set has no order, so the scores could not be matched"
    return None


TEXTS = Constraint((Iterable,), _TEXTS, _texts_problem)
TEXT = Constraint((str,), "a str (one review)")
THRESHOLD = interval(float, low=0.0, high=1.0)
COUNT = interval(int, low=1)


class NotATextModel(PipelineError):
    """The model cannot take a batch of strings: its input is numbers, or of another shape."""


@dataclass(frozen=True)
class Scored:
    """One review's outcome: label and P(positive), or why it could not be scored."""

    label: str | None = None
    probability: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Importance:
    """Per-word effect on P(positive): `baseline` minus the probability without the word."""

    words: list[str]
    deltas: list[float]
    baseline: float
    truncated: bool  # the text had more words than were analysed
    unread_words: int = 0  # of those, words the model never reads (beyond its max_len tokens)
    max_len: int | None = None  # tokens the model reads from one end of a review; None: all
    keep: str = "first"  # that end: "first" or "last"


def label_of(probability: float, threshold: float = DECISION_THRESHOLD) -> str:
    """'positive' when P(positive), rounded to the PROBABILITY_DECIMALS it is shown with,
    reaches the threshold, else 'negative': a label never contradicts its number."""
    return POSITIVE if round(float(probability), PROBABILITY_DECIMALS) >= threshold else NEGATIVE


def check_text(text: str | None) -> str | None:
    """Why a review cannot be scored (None, empty, whitespace only), or None if it can."""
    if text is None or not text.strip():
        return EMPTY_REVIEW
    return None


def wordless(texts: Sequence[str]) -> list[bool]:
    """Whether each text has no word the model would read (its vectorizer sees no token).

    Only texts without a letter or digit outside markup can be wordless, so only those
    go through the model's own `standardize`, which decides."""
    suspects = [
        i
        for i, t in enumerate(texts)
        if all(m.end() - m.start() > 1 for m in _MARKUP_OR_WORD.finditer(t))
    ]
    flags = [False] * len(texts)
    if suspects:
        cleaned = standardize(tf.constant([clean_text(texts[i]) for i in suspects])).numpy()
        for i, words in zip(suspects, cleaned):
            flags[i] = not words
    return flags


_VOCABULARIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def word_vectorizer(model: keras.Model) -> keras.layers.TextVectorization | None:
    """The model's vectorizer of words into ids, if it has one (the n-gram models count
    n-grams instead)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.TextVectorization):
            return layer if layer.get_config().get("output_mode") == "int" else None
    return None


def unknown_only(model: keras.Model, texts: Sequence[str]) -> list[bool]:
    """Whether each text has words but none the model knows (every id the model reads is
    the OOV id, 1): text in another language, or made-up words. The model would score it
    from nothing. A text with a known word anywhere is not suspected."""
    vectorizer = word_vectorizer(model)
    if vectorizer is None:
        return [False] * len(texts)
    if vectorizer not in _VOCABULARIES:
        _VOCABULARIES[vectorizer] = frozenset(vectorizer.get_vocabulary()[2:])
    known = _VOCABULARIES[vectorizer]
    suspects = [
        i
        for i, t in enumerate(texts)
        if not any(
            m.group().lower() in known for m in _QUICK_TOKEN.finditer(t.translate(_APOSTROPHE_FOLD))
        )
    ]
    flags = [False] * len(texts)
    # one vectorizer call per group of short suspects; a very long one alone
    groups = [[i] for i in suspects if len(texts[i]) > LONG_TEXT_CHARS]
    short = [i for i in suspects if len(texts[i]) <= LONG_TEXT_CHARS]
    groups += [short[k : k + _SUSPECTS_PER_CALL] for k in range(0, len(short), _SUSPECTS_PER_CALL)]
    for group in groups:
        rows = np.asarray(vectorizer(tf.constant([clean_text(texts[i]) for i in group])))
        for i, ids in zip(group, rows.reshape(len(group), -1)):
            ids = ids[ids != 0]
            flags[i] = ids.size > 0 and bool(np.all(ids == 1))
    return flags


def clean_text(text: str) -> str:
    """Replace lone surrogates (e.g. from a JSON escape) that TensorFlow cannot encode."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def probabilities(
    model: keras.Model,
    texts: Sequence[str],
    batch_size: int = SCORING_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """P(positive) per text in input order; very long texts go through in batches of one."""
    texts = [clean_text(t) for t in texts]
    long = np.array([len(t) > LONG_TEXT_CHARS for t in texts], dtype=bool)
    probs = np.empty(len(texts), dtype=np.float32)
    for mask, size in ((~long, batch_size), (long, 1)):
        index = np.flatnonzero(mask)
        if len(index):
            probs[index] = text_model_scores(model, [texts[i] for i in index], size, progress)
    return probs


def text_model_scores(
    model: keras.Model,
    texts: list[str],
    batch_size: int,
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """predict_texts, with a model that cannot take strings refused in one line: TensorFlow
    says so in a trace of the graph, dozens of lines long."""
    try:
        return predict_texts(model, texts, batch_size, progress, workers=SCORING_WORKERS)
    except PipelineError:  # the project's own, one line already
        raise
    except (ValueError, tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
        raise NotATextModel(
            "the model does not take text: it must take a batch of raw strings (reviews) "
            "and return P(positive) for each"
        ) from None


def score_texts(
    model: keras.Model,
    texts: Iterable[str | None],
    threshold: float = DECISION_THRESHOLD,
    batch_size: int = SCORING_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> list[Scored]:
    """Label every text; empty, wordless ones and those without a word the model knows
    fail on their own, the rest are scored. Arguments of the wrong type or value raise
    ArgumentError naming them."""
    check_arguments(
        {"model": KERAS_MODEL, "texts": TEXTS, "threshold": THRESHOLD, "batch_size": COUNT},
        model=model,
        texts=texts,
        threshold=threshold,
        batch_size=batch_size,
    )
    reviews = review_list(texts)
    # check_text refuses None, so every text looked up below (error still None) is a str
    errors = [check_text(t) for t in reviews]
    present = [i for i, err in enumerate(errors) if err is None]
    for i, empty in zip(present, wordless([cast(str, reviews[i]) for i in present])):
        if empty:
            errors[i] = NO_WORDS
    present = [i for i, err in enumerate(errors) if err is None]
    for i, unknown in zip(present, unknown_only(model, [cast(str, reviews[i]) for i in present])):
        if unknown:
            errors[i] = UNKNOWN_WORDS
    valid = [i for i, err in enumerate(errors) if err is None]
    probs = probabilities(model, [cast(str, reviews[i]) for i in valid], batch_size, progress)
    results = [Scored(error=err) for err in errors]
    for i, p in zip(valid, probs.tolist()):
        results[i] = Scored(label_of(p, threshold), p)
    return results


def review_list(texts: Iterable[object]) -> list[str | None]:
    """`texts` as a list, in iteration order: a Series' [i] is its label i, not its i-th
    review, and a generator has no [i] at all. An item neither a str nor None is an
    ArgumentError naming it."""
    reviews = list(texts)
    for index, text in enumerate(reviews):
        if text is not None and not isinstance(text, str):
            raise ArgumentError(
                f"texts[{index}]={shown(text)}: must be a str or None (texts is an iterable of str)"
            )
    return cast(list[str | None], reviews)


def reading_window(model: keras.Model) -> tuple[int | None, str]:
    """How many tokens the model reads and from which end ("first" or "last"), from its
    WindowVectorization layer; (None, "first") for a model that reads them all (n-gram models)."""
    for layer in model.layers:
        if isinstance(layer, WindowVectorization):
            return layer.max_len, layer.keep
    return None, "first"


_WORD = re.compile(r"\S+")
# What `text.standardize` blanks out (it lower-cases first, hence IGNORECASE; entities are ASCII)
_TAG = re.compile(r"<[^>]{0,100}>")
_ENTITY = re.compile(r"&[a-z]{2,8};|&#\d{1,6};", re.IGNORECASE | re.ASCII)
_MARKUP_REACH = 110  # characters a tag or entity spans at most, with room to spare


def blank_markup(text: str) -> str:
    """`text` with the markup `standardize` drops replaced by as many spaces (offsets hold)."""

    def blank(match: re.Match) -> str:
        return " " * len(match.group())

    return _ENTITY.sub(blank, _TAG.sub(blank, text))


def whole_words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the whitespace-separated words inside text[start:end], less any cut by an edge."""
    spans = [m.span() for m in _WORD.finditer(text, start, end)]
    if spans and spans[0][0] == start > 0 and not text[start - 1].isspace():
        spans.pop(0)
    if spans and spans[-1][1] == end < len(text) and not text[end].isspace():
        spans.pop()
    return spans


def count_words(text: str, start: int, end: int) -> int:
    """Whitespace-separated words in text[start:end], counted without building them."""
    return sum(1 for _ in _WORD.finditer(text, start, end))


def tokens_per_word(text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """How many tokens the model's vectorizer makes of each word span of `text`."""
    if not spans:
        return np.zeros(0, dtype=np.int64)
    lo, hi = max(0, spans[0][0] - _MARKUP_REACH), spans[-1][1] + _MARKUP_REACH
    blanked = blank_markup(text[lo:hi])
    words = [clean_text(blanked[s - lo : e - lo]) for s, e in spans]
    return tf.strings.split(standardize(tf.constant(words))).row_lengths().numpy()


def read_count(tokens: np.ndarray, max_len: int | None, max_words: int) -> int:
    """How many words, counted from the end the model reads from, come before the first
    word with tokens it does not read (or analyse: at most `max_words` words with tokens);
    `tokens` (per word) is in that order."""
    has_tokens = tokens > 0
    read = has_tokens if max_len is None else has_tokens & (np.cumsum(tokens) - tokens < max_len)
    read = read & (np.cumsum(read) <= max_words)
    unread = np.flatnonzero(has_tokens & ~read)  # the first of these ends what is read
    return int(unread[0]) if unread.size else len(tokens)


def occluded_probabilities(
    model: keras.Model, words: list[str], indices: Sequence[int]
) -> np.ndarray:
    """P(positive) of `words` without each word of `indices`, built and scored a batch at a time."""
    chunk = OCCLUSION_BATCH * SCORING_WORKERS
    probs = [np.zeros(0, dtype=np.float32)]
    for start in range(0, len(indices), chunk):
        variants = [" ".join(words[:i] + words[i + 1 :]) for i in indices[start : start + chunk]]
        probs.append(probabilities(model, variants, batch_size=OCCLUSION_BATCH))
    return np.concatenate(probs)


def word_importance(
    model: keras.Model, text: str, max_words: int = MAX_OCCLUSION_WORDS
) -> Importance:
    """Occlusion: how much P(positive) drops when each whitespace-separated word is removed.

    Only the words the model reads are analysed: the last (or first) `max_len` tokens, as
    its WindowVectorization layer keeps them. Bounded for any text: at most `max_words` words
    with tokens, within MAX_OCCLUSION_CHARS characters of the read end, scored in batches.
    The analysed words alone form the baseline text; words without tokens (markup,
    punctuation) change nothing the model reads and get 0.
    """
    check_arguments(
        {"model": KERAS_MODEL, "text": TEXT, "max_words": COUNT},
        model=model,
        text=text,
        max_words=max_words,
    )
    max_len, keep = reading_window(model)
    from_end = keep == "last"
    if from_end:
        spans = whole_words(text, max(0, len(text) - MAX_OCCLUSION_CHARS), len(text))
    else:
        spans = whole_words(text, 0, min(len(text), MAX_OCCLUSION_CHARS))
    tokens = tokens_per_word(text, spans)
    read = read_count(tokens[::-1] if from_end else tokens, max_len, max_words)
    kept = slice(len(spans) - read, None) if from_end else slice(0, read)
    spans, tokens = spans[kept], tokens[kept]
    if not spans:
        left_out = count_words(text, 0, len(text))
    elif from_end:
        left_out = count_words(text, 0, spans[0][0])
    else:
        left_out = count_words(text, spans[-1][1], len(text))
    # all left out are beyond the model's reach when what was kept fills its window
    unread = left_out if max_len is not None and tokens.sum() >= max_len else 0

    words = [text[s:e] for s, e in spans]
    scored = np.flatnonzero(tokens > 0).tolist()
    baseline = float(probabilities(model, [" ".join(words)])[0])
    deltas = np.zeros(len(words))
    deltas[scored] = baseline - occluded_probabilities(model, words, scored)
    return Importance(
        words,
        deltas.tolist(),
        baseline,
        truncated=left_out > 0,
        unread_words=unread,
        max_len=max_len,
        keep=keep,
    )


# Markdown's characters that could make a link, an image, emphasis, code, math or a
# Streamlit directive (:red[...]), as character references: shown as text, never as markup
_MARKDOWN = str.maketrans({c: f"&#{ord(c)};" for c in "![]*_`~$:\\|"})


def escape_word(word: str) -> str:
    """`word` as text that HTML and Markdown both show literally, never as markup."""
    return html.escape(word, quote=True).translate(_MARKDOWN)


# The change in P(positive) that gets full colour when no word of a review changes it more.
# Scaled to the review's largest change alone, a +0.0000 change (one word among thousands)
# would be painted as strongly as a decisive one. No higher: in a review scored near 0 or 1
# (the app's "Loved it" and "Hated it") even the decisive words change it by less than this.
MIN_COLOUR_SCALE = 0.01


def highlight_html(importance: Importance) -> str:
    """The words as HTML spans, green when they push towards positive, red towards negative.

    Colour strength is the word's change over the review's largest change, or over
    MIN_COLOUR_SCALE when that is larger, so it stays in proportion to the effect itself.
    Every word is escaped for HTML and Markdown, so a review containing markup is shown,
    never run or rendered.
    """
    scale = max(max((abs(d) for d in importance.deltas), default=0.0), MIN_COLOUR_SCALE)
    spans = []
    for word, delta in zip(importance.words, importance.deltas):
        alpha = min(abs(delta) / scale, 1.0) * 0.8
        rgb = "34,160,60" if delta >= 0 else "220,50,50"
        spans.append(
            f'<span title="{delta:+.4f}" style="background-color: rgba({rgb},{alpha:.3f}); '
            f'padding: 1px 2px; border-radius: 3px">{escape_word(word)}</span>'
        )
    return '<div style="line-height: 2">' + " ".join(spans) + "</div>"
