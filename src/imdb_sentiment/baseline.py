"""The classical baseline, TF-IDF word 1-2-grams + logistic regression, and the NB-weighted teacher.

Fitted with scikit-learn, then exported as the same kind of end-to-end Keras
model as the RNNs (raw strings in, P(positive) out), so the evaluate stage,
the CLI and the app treat it like any other model in the zoo. The Keras model
tokenises with the same `standardize` and reproduces scikit-learn's
L2-normalised tf-idf exactly, so its probabilities equal `predict_proba`.

`NBLogistic` (Wang & Manning 2012's NB-weighted logistic regression on binary
word 1-3-grams) is a stronger n-gram model; it only labels the unlabeled
reviews for distillation (`train.teacher`) and is never exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from imdb_sentiment.text import standardize, tokenize
from imdb_sentiment.zoo import TfidfLogistic


def with_ngrams(tokens: list[str], n: int) -> list[str]:
    """Word 1- to n-grams, each joined by spaces, shortest first."""
    grams = list(tokens)
    for size in range(2, n + 1):
        grams += [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return grams


def with_bigrams(tokens: list[str]) -> list[str]:
    """Unigrams then bigrams joined by a space, as Keras' TextVectorization(ngrams=2) makes them."""
    return with_ngrams(tokens, 2)


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


@dataclass(frozen=True)
class NBLogistic:
    """Logistic regression on binary n-gram features scaled by their NB log-count ratios."""

    vectorizer: CountVectorizer
    ratios: sparse.spmatrix  # diagonal: feature j is multiplied by its log-count ratio r_j
    model: LogisticRegression

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) of each text."""
        features = self.vectorizer.transform(list(tokenize(texts))) @ self.ratios
        return self.model.predict_proba(features)[:, 1]


def fit_nb(texts: Sequence[str], labels: np.ndarray, ngrams: int, c: float, seed: int,
           alpha: float = 1.0) -> NBLogistic:
    """Fit NB-weighted logistic regression on binary word 1-to-`ngrams`-grams seen twice or more.

    r = log((p / |p|_1) / (q / |q|_1)), where p and q are the `alpha`-smoothed
    counts of each n-gram in positive and negative reviews.
    """
    vectorizer = CountVectorizer(analyzer=lambda tokens: with_ngrams(tokens, ngrams),
                                 binary=True, min_df=2)
    features = vectorizer.fit_transform(list(tokenize(texts)))
    labels = np.asarray(labels)
    positive = np.asarray(features[labels == 1].sum(axis=0)).ravel() + alpha
    negative = np.asarray(features[labels == 0].sum(axis=0)).ravel() + alpha
    ratios = sparse.diags(np.log((positive / positive.sum()) / (negative / negative.sum())))
    model = LogisticRegression(C=c, solver="liblinear", dual=True, random_state=seed,
                               max_iter=1000)
    model.fit(features @ ratios, labels)
    return NBLogistic(vectorizer, ratios, model)
