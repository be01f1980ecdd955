"""Negated copies of training sentences: minimal pairs that show the network what "not" does.

A review's words carry sentiment by their statistics: in IMDb "not" and "at all" are
mostly negative, so a short "The plot was not boring at all." reads as a complaint. This
module finds short sentences of the labelled training reviews in which one strongly
polar word states the review's verdict ("the acting is superb", "I loved it"), and
negates that statement ("the acting is not superb", "I didn't love it"). The original
keeps its review's label and the edit takes the other, so each pair differs in the
negation alone (counterfactual augmentation, Kaushik et al. 2020, here made by rule).

The polar words come from the same training reviews: a word is polar when its review
frequency differs enough between positive and negative reviews. No outside data is used.
"""

from __future__ import annotations

import collections
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imdb_sentiment.modeling.text import tokenize

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|<br\s*/?>", re.IGNORECASE)
MIN_WORDS, MAX_WORDS = 3, 15
# a polar word is in at least MIN_REVIEWS reviews, and the log of the ratio of its (add-one)
# shares of each class's reviews is MIN_RATIO or more; the sentence's other words stay below
# WEAK_RATIO
MIN_REVIEWS, MIN_RATIO, WEAK_RATIO = 30, 1.0, 0.7
MAX_WORDS_AFTER = 3  # the polar word states the sentence's verdict, near its end

COPULAS = {"is", "was", "are", "were", "it's", "that's", "he's", "she's", "they're"}
CONTRACTED = {"is": "isn't", "was": "wasn't", "are": "aren't", "were": "weren't"}
# degree words that "not" may precede without changing the sense ("not very good")
DEGREE = {
    "very", "really", "so", "quite", "extremely", "truly", "particularly", "especially",
    "incredibly", "absolutely", "genuinely", "totally", "utterly", "terribly", "highly",
    "consistently", "surprisingly", "rather", "fairly",
}  # fmt: skip
# verbs of liking after "i" / "we": form -> (base form, polarity, past tense)
LIKING = {
    "loved": ("love", 1, True), "liked": ("like", 1, True), "enjoyed": ("enjoy", 1, True),
    "adored": ("adore", 1, True), "appreciated": ("appreciate", 1, True),
    "love": ("love", 1, False), "like": ("like", 1, False), "enjoy": ("enjoy", 1, False),
    "adore": ("adore", 1, False), "recommend": ("recommend", 1, False),
    "hated": ("hate", 0, True), "disliked": ("dislike", 0, True),
    "hate": ("hate", 0, False), "dislike": ("dislike", 0, False),
}  # fmt: skip
AUXILIARIES = {"did", "do", "does", "would", "could", "will", "can", "to", "should", "might"}
# a sentence already negated, or turning on a contrast, is not a minimal pair's original
NEGATIONS = {"not", "no", "never", "nothing", "none", "nobody", "nor", "neither", "hardly",
             "barely", "without", "cannot"}  # fmt: skip
CONTRASTS = {"but", "although", "though", "however", "yet", "except", "while", "whereas",
             "if", "unless"}  # fmt: skip


@dataclass(frozen=True)
class Lexicon:
    """Each polar word's class (1 positive, 0 negative) and strength (|log ratio|)."""

    polarity: dict[str, int]
    strength: dict[str, float]


def polar_words(token_lists: Sequence[Sequence[str]], labels: np.ndarray) -> Lexicon:
    """The words whose review frequency differs between the classes by WEAK_RATIO or more
    (log of the ratio of the shares of each class's reviews that hold them)."""
    counts = [collections.Counter(), collections.Counter()]  # type: list[collections.Counter[str]]
    for tokens, label in zip(token_lists, labels):
        counts[int(label)].update(set(tokens))
    sizes = [max(int((labels == c).sum()), 1) for c in (0, 1)]
    polarity, strength = {}, {}
    for word in counts[0].keys() | counts[1].keys():
        negative, positive = counts[0][word], counts[1][word]
        if negative + positive < MIN_REVIEWS:
            continue
        ratio = math.log((positive + 1) / sizes[1]) - math.log((negative + 1) / sizes[0])
        if abs(ratio) >= WEAK_RATIO:
            polarity[word], strength[word] = int(ratio > 0), abs(ratio)
    return Lexicon(polarity, strength)


def negate(tokens: list[str], label: int, lexicon: Lexicon, rng: np.random.Generator):
    """The sentence with its verdict negated, or None where it has no single verdict that
    agrees with `label` in a form this module can negate."""
    if not MIN_WORDS <= len(tokens) <= MAX_WORDS:
        return None
    if any(t in NEGATIONS or t.endswith("n't") or t in CONTRASTS for t in tokens):
        return None
    for i, token in enumerate(tokens[:-1]):
        if token in COPULAS:
            j = i + 2 if tokens[i + 1] in DEGREE and i + 2 < len(tokens) else i + 1
            if _sole_verdict(tokens, j, label, lexicon):
                return tokens[:i] + _negated_copula(token, rng) + tokens[i + 1 :]
        if token in ("i", "we") and tokens[i + 1] in LIKING:
            base, polarity, past = LIKING[tokens[i + 1]]
            if (i and tokens[i - 1] in AUXILIARIES) or polarity != label:
                continue
            if any(k != i + 1 and t in lexicon.polarity for k, t in enumerate(tokens)):
                continue
            auxiliary = "did" if past else "do"
            negation = [auxiliary + "n't"] if rng.random() < 0.5 else [auxiliary, "not"]
            return tokens[: i + 1] + negation + [base] + tokens[i + 2 :]
    return None


def _sole_verdict(tokens: list[str], j: int, label: int, lexicon: Lexicon) -> bool:
    """tokens[j] is a strong polar word of class `label`, near the end, and the sentence's
    only polar word."""
    word = tokens[j]
    if lexicon.polarity.get(word) != label or lexicon.strength[word] < MIN_RATIO:
        return False
    if len(tokens) - 1 - j > MAX_WORDS_AFTER:
        return False
    return not any(k != j and t in lexicon.polarity for k, t in enumerate(tokens))


def _negated_copula(copula: str, rng: np.random.Generator) -> list[str]:
    """`copula` negated as "is not", "isn't" or "is never", drawn at random."""
    draw = rng.random()
    if copula in CONTRACTED and draw < 0.4:
        return [CONTRACTED[copula]]
    return [copula, "never" if draw >= 0.8 else "not"]


def negation_pairs(texts: Sequence[str], labels: np.ndarray, seed: int):
    """Minimal pairs from the labelled reviews `texts`: (sentences, their 0/1 labels, a
    summary), each original sentence followed by its negation."""
    review_tokens = list(tokenize(texts))
    lexicon = polar_words(review_tokens, labels)
    sentences, owners = [], []
    for index, text in enumerate(texts):
        for sentence in SENTENCE_END.split(text):
            if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
                sentences.append(sentence)
                owners.append(index)
    rng = np.random.default_rng(seed)
    pairs, pair_labels = [], []
    for tokens, owner in zip(tokenize(sentences), owners):
        label = int(labels[owner])
        negated = negate(tokens, label, lexicon, rng)
        if negated is not None:
            pairs += [" ".join(tokens), " ".join(negated)]
            pair_labels += [label, 1 - label]
    summary = {"negation_pairs": len(pairs) // 2, "polar_words": len(lexicon.polarity)}
    print(f"train: {len(pairs) // 2} negated sentence pairs", file=sys.stderr)
    return pairs, np.asarray(pair_labels, dtype=np.int8), summary
