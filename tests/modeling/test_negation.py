"""Negated copies of training sentences: which sentences are negated, how, and with what label."""

from __future__ import annotations

import numpy as np
import pytest
from builders import TINY_PARAMS, train_on_tiny_data

from imdb_sentiment.core.artifacts import read_json
from imdb_sentiment.modeling.negation import Lexicon, negate, negation_pairs, polar_words

LEXICON = Lexicon(
    polarity={"superb": 1, "boring": 0, "fine": 1, "dull": 0, "awful": 0},
    strength={"superb": 2.0, "boring": 1.5, "fine": 0.8, "dull": 1.2, "awful": 2.5},
)


def negated(sentence: str, label: int, seed: int = 0) -> str | None:
    tokens = negate(sentence.split(), label, LEXICON, np.random.default_rng(seed))
    return None if tokens is None else " ".join(tokens)


@pytest.mark.parametrize(
    ("sentence", "label", "forms"),
    [
        (
            "the acting was superb",
            1,
            {
                "the acting was not superb",
                "the acting wasn't superb",
                "the acting was never superb",
            },
        ),
        (
            "the plot is very boring",
            0,
            {
                "the plot is not very boring",
                "the plot isn't very boring",
                "the plot is never very boring",
            },
        ),
        ("honestly it's awful", 0, {"honestly it's not awful", "honestly it's never awful"}),
        ("i loved this film", 1, {"i didn't love this film", "i did not love this film"}),
        (
            "we hate sequels like that",
            0,
            {"we don't hate sequels like that", "we do not hate sequels like that"},
        ),
    ],
)
def test_a_sole_verdict_is_negated(sentence, label, forms):
    seen = {negated(sentence, label, seed) for seed in range(40)}
    assert seen == forms


@pytest.mark.parametrize(
    ("sentence", "label"),
    [
        ("the acting was superb", 0),  # the verdict disagrees with the review's label
        ("the acting was fine", 1),  # too weak a polar word to carry the verdict
        ("the acting was superb but dull", 1),  # a contrast
        ("the acting was superb and the plot awful", 1),  # a second polar word
        ("the acting was not superb", 0),  # already negated
        ("the acting wasn't superb", 0),
        ("the acting was superb in every single one of its many scenes", 1),  # verdict too early
        ("was superb", 1),  # too short
        ("did i love this film", 1),  # a question
        ("superb", 1),
    ],
)
def test_sentences_without_a_negatable_verdict_are_left_out(sentence, label):
    assert negated(sentence, label) is None


def test_polar_words_come_from_the_labelled_reviews():
    reviews = [["great", "film"]] * 40 + [["awful", "film"]] * 40 + [["great"]] * 5
    labels = np.array([1] * 40 + [0] * 40 + [0] * 5)
    lexicon = polar_words(reviews, labels)
    assert lexicon.polarity == {"great": 1, "awful": 0}
    assert lexicon.strength["awful"] > lexicon.strength["great"] > 1.0


def test_pairs_are_an_original_then_its_negation_with_the_other_label():
    positive = "The acting was superb! I loved it. A film."
    negative = "The acting was awful.<br /><br />I hated it. A film."
    texts = [positive] * 40 + [negative] * 40
    labels = np.array([1] * 40 + [0] * 40, dtype=np.int8)
    sentences, pair_labels, summary = negation_pairs(texts, labels, seed=0)
    assert summary["negation_pairs"] == len(sentences) // 2 > 0
    assert list(pair_labels[0::2]) == [1 - label for label in pair_labels[1::2]]
    assert dict(zip(sentences[0::2], pair_labels[0::2].tolist())) == {
        "the acting was superb": 1,
        "i loved it": 1,
        "the acting was awful": 0,
        "i hated it": 0,
    }
    for original, edit in zip(sentences[0::2], sentences[1::2]):
        assert "not" in edit.split() or "never" in edit.split() or "n't" in edit
        assert len(edit.split()) - len(original.split()) in (0, 1, 2)
    again = negation_pairs(texts, labels, seed=0)
    assert again[0] == sentences and np.array_equal(again[1], pair_labels)


def test_no_pairs_from_reviews_without_a_verdict():
    sentences, labels, summary = negation_pairs(["A film.", "Another film."], np.array([1, 0]), 0)
    assert sentences == [] and len(labels) == 0 and summary["negation_pairs"] == 0


@pytest.mark.slow
def test_the_train_stage_learns_the_pairs_and_says_how_many(tiny_pipeline, tmp_path, monkeypatch):
    """The tiny reviews hold no negatable verdict, so the stage gets two pairs from a stand-in."""
    from imdb_sentiment.modeling import negation

    pairs = ["the film was superb", "the film was not superb", "i hated it", "i didn't hate it"]

    def stand_in(texts, labels, seed):
        # the labelled reviews with their texts and 0/1 labels, not the teacher's soft targets
        assert len(texts) == len(labels) > 0 and set(np.unique(labels)) <= {0, 1}
        return pairs, np.array([1, 0, 0, 1], np.int8), {"negation_pairs": 2}

    monkeypatch.setattr(negation, "negation_pairs", stand_in)
    (tmp_path / "plain").mkdir()
    (tmp_path / "pairs").mkdir()
    distilled = {**TINY_PARAMS["train"], "distill_unlabeled": True}
    plain = read_json(
        train_on_tiny_data(tiny_pipeline, tmp_path / "plain", distilled)[1].with_name(
            "model.params.json"
        )
    )
    _, model = train_on_tiny_data(
        tiny_pipeline, tmp_path / "pairs", {**distilled, "negation_pairs": True}
    )
    card = read_json(model.with_name("model.params.json"))
    assert card["train"]["negation_pairs"] is True
    assert card["fit"]["negation_pairs"] == 2
    assert card["fit"]["train_reviews"] == plain["fit"]["train_reviews"] + 4
