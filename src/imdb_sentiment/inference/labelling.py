"""Using the trained model: score reviews, label them, explain a score by occlusion.

Shared by the `imdb-sentiment` command line and the Streamlit app, so both
label, validate and explain reviews the same way. Scoring goes through
`scoring.predict_texts`, the same path evaluation uses.
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from imdb_sentiment.inference.scoring import SCORING_WORKERS, predict_texts
from imdb_sentiment.modeling.text import standardize

DEFAULT_THRESHOLD = 0.5
DEFAULT_BATCH_SIZE = 256
POSITIVE, NEGATIVE = "positive", "negative"
EMPTY_REVIEW = "empty review (no text to classify)"
NO_WORDS = "no words to classify (only punctuation, symbols or markup)"
UNKNOWN_WORDS = ("none of its words is in the model's vocabulary (it reads English movie "
                 "reviews), so any score would be a guess")
# A quick look for a known word: lower-cased runs of letters, digits and apostrophes. It
# can only miss a review with no known word, never flag one that has one; the model's own
# vectorizer confirms every review it finds no known word in (see `unknown_only`)
_QUICK_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# The markup `text.standardize` blanks out, or a letter or digit: the first match that is
# not markup shows a text has a word (see `wordless`)
_MARKUP_OR_WORD = re.compile(r"<[^>]{0,100}>|&[a-z]{2,8};|&#\d{1,6};|[^\W_]", re.IGNORECASE)
# Texts this long are scored one at a time: the vectorizer pads a batch to its
# longest review before truncation, so a 1 MB review (~200k tokens) batched with
# 255 others would build a tensor of hundreds of MB. Results do not change,
# because padding does not, with masking (`train.mask_padding`) on.
LONG_TEXT_CHARS = 100_000
MAX_OCCLUSION_WORDS = 300


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


def label_of(probability: float, threshold: float = DEFAULT_THRESHOLD) -> str:
    """'positive' when P(positive) reaches the threshold, else 'negative'."""
    return POSITIVE if probability >= threshold else NEGATIVE


def check_text(text: str | None) -> str | None:
    """Why a review cannot be scored (None, empty, whitespace only), or None if it can."""
    if text is None or not text.strip():
        return EMPTY_REVIEW
    return None


def wordless(texts: Sequence[str]) -> list[bool]:
    """Whether each text has no word the model would read (its vectorizer sees no token).

    Only texts without a letter or digit outside markup can be wordless, so only those
    go through the model's own `standardize`, which decides."""
    suspects = [i for i, t in enumerate(texts)
                if all(m.end() - m.start() > 1 for m in _MARKUP_OR_WORD.finditer(t))]
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
    """Whether each text has words but none the model knows (every id is the OOV id, 1):
    text in another language, or made-up words. The model would score it from nothing."""
    vectorizer = word_vectorizer(model)
    if vectorizer is None:
        return [False] * len(texts)
    if vectorizer not in _VOCABULARIES:
        _VOCABULARIES[vectorizer] = frozenset(vectorizer.get_vocabulary()[2:])
    known = _VOCABULARIES[vectorizer]
    suspects = [i for i, t in enumerate(texts)
                if not any(m.group().lower() in known for m in _QUICK_TOKEN.finditer(t))]
    flags = [False] * len(texts)
    for i in suspects:
        ids = np.asarray(vectorizer(tf.constant([clean_text(texts[i])]))).ravel()
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


def probabilities(model: keras.Model, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: Callable[[int], object] | None = None) -> np.ndarray:
    """P(positive) per text in input order; very long texts go through in batches of one."""
    texts = [clean_text(t) for t in texts]
    long = np.array([len(t) > LONG_TEXT_CHARS for t in texts], dtype=bool)
    probs = np.empty(len(texts), dtype=np.float32)
    for mask, size in ((~long, batch_size), (long, 1)):
        index = np.flatnonzero(mask)
        if len(index):
            probs[index] = predict_texts(model, [texts[i] for i in index], size, progress,
                                         workers=SCORING_WORKERS)
    return probs


def score_texts(model: keras.Model, texts: Sequence[str | None],
                threshold: float = DEFAULT_THRESHOLD, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: Callable[[int], object] | None = None) -> list[Scored]:
    """Label every text; empty, wordless ones and those without a word the model knows
    fail on their own, the rest are scored."""
    errors = [check_text(t) for t in texts]
    present = [i for i, err in enumerate(errors) if err is None]
    for i, empty in zip(present, wordless([texts[i] for i in present])):
        if empty:
            errors[i] = NO_WORDS
    present = [i for i, err in enumerate(errors) if err is None]
    for i, unknown in zip(present, unknown_only(model, [texts[i] for i in present])):
        if unknown:
            errors[i] = UNKNOWN_WORDS
    valid = [i for i, err in enumerate(errors) if err is None]
    probs = probabilities(model, [texts[i] for i in valid], batch_size, progress)
    results = [Scored(error=err) for err in errors]
    for i, p in zip(valid, probs.tolist()):
        results[i] = Scored(label_of(p, threshold), p)
    return results


def word_importance(model: keras.Model, text: str,
                    max_words: int = MAX_OCCLUSION_WORDS) -> Importance:
    """Occlusion: how much P(positive) drops when each whitespace-separated word is removed.

    Only the first `max_words` words are analysed (and form the baseline text),
    which bounds the work at max_words + 1 texts of max_words words. All
    variants go through the model in a single batch.
    """
    all_words = text.split()
    words = all_words[:max_words]
    variants = [" ".join(words)]
    variants += [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    probs = probabilities(model, variants, batch_size=len(variants))
    baseline = float(probs[0])
    return Importance(words, [baseline - float(p) for p in probs[1:]], baseline,
                      truncated=len(all_words) > len(words))


def highlight_html(importance: Importance) -> str:
    """The words as HTML spans, green when they push towards positive, red towards negative.

    Every word is HTML-escaped, so a review containing markup is shown, never run.
    """
    scale = max((abs(d) for d in importance.deltas), default=0.0) or 1.0
    spans = []
    for word, delta in zip(importance.words, importance.deltas):
        alpha = min(abs(delta) / scale, 1.0) * 0.8
        rgb = "34,160,60" if delta >= 0 else "220,50,50"
        spans.append(
            f'<span title="{delta:+.4f}" style="background-color: rgba({rgb},{alpha:.3f}); '
            f'padding: 1px 2px; border-radius: 3px">{html.escape(word, quote=True)}</span>'
        )
    return '<div style="line-height: 2">' + " ".join(spans) + "</div>"
