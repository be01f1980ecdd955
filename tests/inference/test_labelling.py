"""Behaviour of the trained model: labels, negation, batching; and robustness of scoring."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from imdb_sentiment.inference import labelling
from imdb_sentiment.inference.scoring import load_model, predict_texts

REAL_MODEL = Path(__file__).resolve().parents[2] / "models" / "model.keras"

CLEAR_POSITIVE = [
    "One of the best films I have ever seen. Brilliant acting, a wonderful script and a "
    "moving, beautiful ending. I loved every minute of it.",
    "An absolute masterpiece. Superb performances and excellent direction; highly recommended.",
    "I laughed, I cried, I loved it. A great, heartwarming movie for the whole family.",
]
CLEAR_NEGATIVE = [
    "The worst movie I have ever seen. Terrible acting, an awful script and a boring, "
    "pointless plot. A complete waste of time.",
    "Dull, stupid and badly made. I wanted my money back after twenty minutes.",
    "Horrible. The dialogue is laughable, the characters are flat and the ending is a mess.",
]
# Minimal edits that add a negation. Checked against a 2-epoch model (val acc 0.86),
# where every pair dropped by 0.07 or more.
NEGATION_PAIRS = [
    ("This movie was good.", "This movie was not good."),
    ("The acting was great and I enjoyed it.", "The acting was not great and I did not enjoy it."),
    ("I liked it.", "I did not like it."),
    ("A great film, I loved it.", "Not a great film, I did not love it."),
]


@pytest.fixture(scope="module")
def real_model():
    if not REAL_MODEL.is_file():
        pytest.skip(f"{REAL_MODEL} not found: train it with `dvc repro` first")
    return load_model(REAL_MODEL)


@pytest.mark.real_model
@pytest.mark.parametrize("text", CLEAR_POSITIVE)
def test_clear_positive_reviews_are_positive(real_model, text):
    assert labelling.score_texts(real_model, [text])[0].label == labelling.POSITIVE


@pytest.mark.real_model
@pytest.mark.parametrize("text", CLEAR_NEGATIVE)
def test_clear_negative_reviews_are_negative(real_model, text):
    assert labelling.score_texts(real_model, [text])[0].label == labelling.NEGATIVE


@pytest.mark.real_model
@pytest.mark.parametrize(("plain", "negated"), NEGATION_PAIRS)
def test_negation_lowers_the_score(real_model, plain, negated):
    p_plain, p_negated = predict_texts(real_model, [plain, negated])
    assert p_negated < p_plain, f"{negated!r} scored {p_negated:.3f} >= {p_plain:.3f}"


@pytest.mark.real_model
def test_score_does_not_depend_on_the_batch(real_model):
    texts = CLEAR_POSITIVE + CLEAR_NEGATIVE + [p for pair in NEGATION_PAIRS for p in pair]
    texts += ["Meh.", "It was fine, I guess, though long. " * 60]
    batched = predict_texts(real_model, texts, batch_size=64)
    alone = np.array([predict_texts(real_model, [t])[0] for t in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


ODD_TEXTS = [
    "",
    " ",
    "\t\n  ",
    "😀🎬👍",
    "a",
    "<br /><br />",
    "&amp; &#39;",
    "\x00\x01",
    "'''",
    "x" * 10_000,
    "great " * 200_000,
]  # the last is ~1.2 MB


def test_any_string_gives_a_finite_probability(tiny_model):
    probs = labelling.probabilities(tiny_model, ODD_TEXTS)
    assert probs.shape == (len(ODD_TEXTS),)
    assert np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))


def test_lone_surrogate_is_scored_not_crashing(tiny_model):
    (p,) = labelling.probabilities(tiny_model, ["great \ud800 film"])
    assert p == pytest.approx(
        labelling.probabilities(tiny_model, ["great \ufffd film"])[0], abs=1e-6
    )


def test_empty_texts_fail_alone(tiny_model):
    results = labelling.score_texts(tiny_model, ["great film", "", "   ", None, "awful"])
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert all(r.label is None and r.probability is None for r in results if not r.ok)


def test_occlusion_matches_removing_each_word(tiny_model):
    text = "great film but the ending was awful and boring"
    importance = labelling.word_importance(tiny_model, text)
    words = text.split()
    assert importance.words == words and not importance.truncated
    without = [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    base, *rest = predict_texts(tiny_model, [text] + without)
    assert importance.baseline == pytest.approx(base, abs=1e-6)
    np.testing.assert_allclose(importance.deltas, base - np.array(rest), atol=1e-6)


def test_occlusion_is_capped(tiny_model):
    importance = labelling.word_importance(tiny_model, "great " * 1000, max_words=20)
    assert len(importance.words) == len(importance.deltas) == 20 and importance.truncated


def test_highlight_escapes_every_word():
    importance = labelling.Importance(
        ['<img src=x onerror="alert(1)">', "a&b", "fine"], [0.2, -0.1, 0.0], 0.5, truncated=False
    )
    html = labelling.highlight_html(importance)
    assert "<img" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html and "a&amp;b" in html
    assert html.count("<span") == 3


def colours(html: str) -> list[tuple[str, float]]:
    """(RGB, alpha) of each highlighted word, in order."""
    return [(rgb, float(a)) for rgb, a in re.findall(r"rgba\((\d+,\d+,\d+),([\d.]+)\)", html)]


def test_highlight_colour_follows_the_size_of_the_effect():
    def alphas(deltas):
        words = [f"w{i}" for i in range(len(deltas))]
        importance = labelling.Importance(words, deltas, 0.5, truncated=False)
        return [a for _, a in colours(labelling.highlight_html(importance))]

    # a review whose largest change is meaningful: the largest gets full colour, as before
    assert alphas([0.3, -0.15, 0.0]) == [0.8, 0.4, 0.0]
    # thousands of words that each change nothing (shown +0.0000): no colour, not full green
    assert max(alphas([1e-6, 3e-5, -4e-5] * 100)) <= 0.004
    # a small largest change is coloured in proportion to MIN_COLOUR_SCALE, not to itself
    floor = labelling.MIN_COLOUR_SCALE
    assert alphas([floor / 2, -floor / 4]) == [0.4, 0.2]
    assert alphas([]) == [] and alphas([0.0]) == [0.0]


def test_wordless_texts_fail_alone_and_words_in_any_script_are_read(tiny_model):
    texts = ["!!!", "<br /><br />", "great film", "\u4e2d\u6587", "&#39; &quot;", "x"]
    results = labelling.score_texts(tiny_model, texts)
    assert [r.error == labelling.NO_WORDS for r in results] == [
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    assert labelling.wordless(texts) == [r.error == labelling.NO_WORDS for r in results]
    # read, but not known to the model: failed for that reason, not scored from nothing
    assert [r.error == labelling.UNKNOWN_WORDS for r in results] == [False] * 3 + [
        True,
        False,
        True,
    ]


def test_a_known_word_is_found_however_the_quick_look_splits_the_text(tiny_model):
    vocabulary = labelling.word_vectorizer(tiny_model).get_vocabulary()[2:]
    word = next(w for w in vocabulary if w.isalpha())
    texts = [f"<br />{word.upper()}!!", f"xyzzyq,{word}", "xyzzyq", "<i>qwfpgj</i>"]
    assert labelling.unknown_only(tiny_model, texts) == [False, False, True, True]


def test_capital_letters_beyond_ascii_are_known_as_the_model_reads_them():
    """The model lower-cases every letter: "CLICHÉ" is "cliché" to it, and "didn’t" "didn't"."""
    import keras

    from imdb_sentiment.modeling.text import make_vectorizer

    texts = keras.Input(shape=(), dtype="string")
    model = keras.Model(texts, make_vectorizer(["cliché", "good", "didn't", "s"])(texts))
    texts = ["CLICHÉ", "cliché", "GOOD", "qwxzv", "Clichés good", "DIDN’T", "qwxzv’s"]
    found = labelling.unknown_only(model, texts)
    assert found == [False, False, False, True, False, False, True]


def test_unknown_word_checks_in_batches_agree_with_one_at_a_time(tiny_model):
    """Suspects are vectorized in groups of any lengths; each row is judged alone."""
    rng = np.random.default_rng(0)
    texts = [" ".join(["qwxzv"] * int(n)) for n in rng.integers(1, 60, 700)]
    texts[::7] = ["..."] * len(texts[::7])  # no words at all: not "unknown words"
    found = labelling.unknown_only(tiny_model, texts)
    assert found == [labelling.unknown_only(tiny_model, [t])[0] for t in texts[:40]] + found[40:]
    assert found == [t != "..." for t in texts]


@pytest.mark.parametrize(
    ("probability", "label"),
    [(0.4999996, "positive"), (0.4999994, "negative"), (0.5, "positive"), (1.0, "positive")],
)
def test_the_label_follows_the_probability_as_it_is_shown(probability, label):
    """Shown to 6 decimals, 0.4999996 is 0.5: the label beside it says positive."""
    assert labelling.label_of(probability) == label


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A tiny text model built in seconds (no pipeline run)."""
    from builders import small_model

    return load_model(small_model(tmp_path_factory.mktemp("model") / "small.keras"))


def numeric_models():
    """Keras models that take numbers: a batch of strings fails in Keras' input checks, or
    inside the traced graph."""
    import keras

    rows = keras.Input(shape=(3,))
    scalars = keras.Input(shape=())
    return [
        keras.Model(rows, keras.layers.Dense(1, activation="sigmoid")(rows)),
        keras.Model(scalars, keras.layers.Dense(1)(keras.layers.Reshape((1,))(scalars))),
    ]


def test_scores_pair_with_reviews_by_position_whatever_the_iterable(small):
    """A Series' [i] is its label i: index [2, 0, 1] once scored the reviews in another order,
    and [3, 4] raised KeyError; a generator has no [i] at all."""
    import pandas as pd

    texts = ["good film", "bad plot", "film"]
    expected = labelling.score_texts(small, texts)
    assert labelling.score_texts(small, pd.Series(texts, index=[2, 0, 1])) == expected
    assert labelling.score_texts(small, pd.Series(texts[:2], index=[3, 4])) == expected[:2]
    assert labelling.score_texts(small, (t for t in texts)) == expected
    assert labelling.score_texts(small, np.array(texts)) == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"texts": "good film"}, r"texts='good film': must be an ordered iterable of str"),
        ({"texts": np.array("good film")}, r"texts=array\('good film'.*: .* not a 0-d array"),
        ({"texts": {"good film"}}, r"texts=\{'good film'\}: .*a set has no order"),
        ({"texts": ["good", b"x"]}, r"texts\[1\]=b'x': must be a str or None"),
        ({"texts": None}, r"texts=None: must be an ordered iterable"),
        ({"model": None}, r"model=None: must be a loaded Keras model"),
        ({"threshold": 2}, r"threshold=2: must be a number in \[0.0, 1.0\]"),
        ({"threshold": float("nan")}, r"threshold=nan: must be a number in \[0.0, 1.0\]"),
        ({"threshold": True}, r"threshold=True: must be a number"),
        ({"batch_size": 0}, r"batch_size=0: must be an integer >= 1"),
    ],
)
def test_score_texts_names_a_bad_argument(small, arguments, message):
    from imdb_sentiment.core.errors import ArgumentError

    call = {"model": small, "texts": ["good film"], **arguments}
    with pytest.raises(ArgumentError, match=f"^{message}") as err:
        labelling.score_texts(**call)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"model": None}, r"model=None: must be a loaded Keras model"),
        ({"text": None}, r"text=None: must be a str"),
        ({"text": ["good film"]}, r"text=\['good film'\]: must be a str"),
        ({"max_words": -1}, r"max_words=-1: must be an integer >= 1"),
        ({"max_words": 0}, r"max_words=0: must be an integer >= 1"),
    ],
)
def test_word_importance_names_a_bad_argument(small, arguments, message):
    from imdb_sentiment.core.errors import ArgumentError

    call = {"model": small, "text": "good film", **arguments}
    with pytest.raises(ArgumentError, match=f"^{message}"):
        labelling.word_importance(**call)


@pytest.mark.parametrize("model", numeric_models())
def test_a_model_that_takes_numbers_is_one_line(model):
    """TensorFlow's error was a trace of the graph, dozens of lines long."""
    with pytest.raises(labelling.NotATextModel, match="^the model does not take text") as err:
        labelling.score_texts(model, ["good film"])
    assert "\n" not in str(err.value)
