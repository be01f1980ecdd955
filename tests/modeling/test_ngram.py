"""The TF-IDF + logistic regression baseline and its end-to-end Keras export."""

from __future__ import annotations

import random

import numpy as np
from builders import review_text

from imdb_sentiment.inference.scoring import load_model, predict_texts
from imdb_sentiment.modeling import ngram


def test_bigrams_match_keras_ngrams():
    assert ngram.with_bigrams(["not", "good", "film"]) == [
        "not",
        "good",
        "film",
        "not good",
        "good film",
    ]


def test_keras_export_equals_sklearn_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.setattr(ngram, "TFIDF_MAX_FEATURES", 500)  # some training n-grams left out
    rng = random.Random(0)
    kinds = ["pos", "neg"] * 60
    texts = [review_text(rng, kind) for kind in kinds]
    labels = np.array([kind == "pos" for kind in kinds], dtype=int)
    vectorizer, model = ngram.fit(texts, labels, c=4.0, seed=0)
    held_out = [review_text(rng, k) for k in ("pos", "neg", "pos")] + [
        "",
        "unseen words only",
        "Great<br />film!",
    ]
    expected = ngram.predict_proba(vectorizer, model, held_out)
    keras_model = ngram.to_keras(vectorizer, model)
    np.testing.assert_allclose(predict_texts(keras_model, held_out), expected, atol=1e-6)
    path = tmp_path / "ngram.keras"
    keras_model.save(path)
    np.testing.assert_allclose(predict_texts(load_model(path), held_out), expected, atol=1e-6)
    train_accuracy = ((ngram.predict_proba(vectorizer, model, texts) >= 0.5) == labels).mean()
    assert train_accuracy > 0.9


def test_ngrams_are_shortest_first():
    assert ngram.with_ngrams(["not", "very", "good"], 3) == [
        "not",
        "very",
        "good",
        "not very",
        "very good",
        "not very good",
    ]


def test_nb_teacher_weights_ngrams_by_class_and_separates_reviews():
    rng = random.Random(1)
    kinds = ["pos", "neg"] * 60
    texts = [review_text(rng, kind) for kind in kinds]
    labels = np.array([kind == "pos" for kind in kinds], dtype=int)
    teacher = ngram.fit_nb(
        texts + ["only here twice", "only here twice"], np.r_[labels, 1, 1], ngrams=3, c=1.0, seed=0
    )
    ratio = dict(zip(teacher.vectorizer.get_feature_names_out(), teacher.ratios.diagonal()))
    assert ratio["only here twice"] > 0 and ratio["only here"] > 0  # seen in positives only
    held_out = [review_text(rng, k) for k in ("pos", "neg") * 10]
    probs = teacher.predict_proba(held_out)
    assert ((probs >= 0.5) == np.array([True, False] * 10)).mean() >= 0.9
    assert teacher.predict_proba(["", "unseen words only"]).shape == (2,)


def test_nb_logreg_export_equals_sklearn_and_round_trips(tmp_path):
    rng = random.Random(2)
    kinds = ["pos", "neg"] * 60
    texts = [review_text(rng, kind) for kind in kinds]
    labels = np.array([kind == "pos" for kind in kinds], dtype=int)
    nb = ngram.fit_nb(texts, labels, ngrams=3, c=4.0, seed=0)
    held_out = [review_text(rng, k) for k in ("pos", "neg", "pos")] + [
        "",
        "unseen words only",
        "Great<br />film!",
        "not very good, not very good at all",
    ]
    expected = nb.predict_proba(held_out)
    keras_model = ngram.nb_to_keras(nb, ngrams=3)
    np.testing.assert_allclose(predict_texts(keras_model, held_out), expected, atol=1e-5)
    path = tmp_path / "nb.keras"
    keras_model.save(path)
    np.testing.assert_allclose(predict_texts(load_model(path), held_out), expected, atol=1e-5)
    assert ((nb.predict_proba(texts) >= 0.5) == labels).mean() > 0.9
