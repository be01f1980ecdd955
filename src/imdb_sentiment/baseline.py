"""The classical baseline: TF-IDF word 1-2-grams + logistic regression (scikit-learn).

Fitted with scikit-learn, then exported as the same kind of end-to-end Keras
model as the RNNs (raw strings in, P(positive) out), so the evaluate stage,
the CLI and the app treat it like any other model in the zoo. The Keras model
tokenises with the same `standardize` and reproduces scikit-learn's
L2-normalised tf-idf exactly, so its probabilities equal `predict_proba`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from imdb_sentiment.text import standardize, tokenize
from imdb_sentiment.zoo import TfidfLogistic


def with_bigrams(tokens: list[str]) -> list[str]:
    """Unigrams then bigrams joined by a space, as Keras' TextVectorization(ngrams=2) makes them."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def fit(texts: Sequence[str], labels: np.ndarray, max_features: int, c: float, seed: int
        ) -> tuple[TfidfVectorizer, LogisticRegression]:
    """Fit tf-idf (min_df 2) and a liblinear logistic regression on training texts."""
    vectorizer = TfidfVectorizer(analyzer=with_bigrams, min_df=2, max_features=max_features)
    features = vectorizer.fit_transform(list(tokenize(texts)))
    model = LogisticRegression(C=c, solver="liblinear", random_state=seed, max_iter=1000)
    model.fit(features, labels)
    return vectorizer, model


def predict_proba(vectorizer: TfidfVectorizer, model: LogisticRegression,
                  texts: Sequence[str]) -> np.ndarray:
    return model.predict_proba(vectorizer.transform(list(tokenize(texts))))[:, 1]


def to_keras(vectorizer: TfidfVectorizer, model: LogisticRegression) -> keras.Model:
    """The fitted pair as an end-to-end Keras model: raw strings (batch,) -> P(positive) (batch,)."""
    vocabulary = vectorizer.get_feature_names_out().tolist()
    tfidf = layers.TextVectorization(
        standardize=standardize, split="whitespace", ngrams=2, output_mode="tf_idf",
        vocabulary=vocabulary, idf_weights=vectorizer.idf_.tolist(), name="vectorizer")
    texts = keras.Input(shape=(), dtype="string", name="text")
    head = TfidfLogistic(len(vocabulary), name="logistic")
    prob = head(tfidf(texts))
    head.set_weights([model.coef_.reshape(-1, 1).astype("float32"),
                      model.intercept_.astype("float32")])
    return keras.Model(texts, prob, name="tfidf_logreg")
