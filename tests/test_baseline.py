"""The TF-IDF + logistic regression baseline and its end-to-end Keras export."""

from __future__ import annotations

import random

import numpy as np

from conftest import review_text
from imdb_sentiment import baseline
from imdb_sentiment.zoo import load_model, predict_texts


def test_bigrams_match_keras_ngrams():
    assert baseline.with_bigrams(["not", "good", "film"]) == [
        "not", "good", "film", "not good", "good film"]


def test_keras_export_equals_sklearn_and_round_trips(tmp_path):
    rng = random.Random(0)
    kinds = ["pos", "neg"] * 60
    texts = [review_text(rng, kind) for kind in kinds]
    labels = np.array([kind == "pos" for kind in kinds], dtype=int)
    vectorizer, model = baseline.fit(texts, labels, max_features=500, c=4.0, seed=0)
    held_out = [review_text(rng, k) for k in ("pos", "neg", "pos")] + ["", "unseen words only",
                                                                       "Great<br />film!"]
    expected = baseline.predict_proba(vectorizer, model, held_out)
    keras_model = baseline.to_keras(vectorizer, model)
    np.testing.assert_allclose(predict_texts(keras_model, held_out), expected, atol=1e-6)
    path = tmp_path / "baseline.keras"
    keras_model.save(path)
    np.testing.assert_allclose(predict_texts(load_model(path), held_out), expected, atol=1e-6)
    train_accuracy = ((baseline.predict_proba(vectorizer, model, texts) >= 0.5) == labels).mean()
    assert train_accuracy > 0.9
