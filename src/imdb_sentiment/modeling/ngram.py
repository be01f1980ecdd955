"""The n-gram models: TF-IDF word 1-2-grams + logistic regression, and NB-weighted logistic
regression on binary word 1-to-N-grams (Wang & Manning 2012).

Both are fitted with scikit-learn, then exported as the same kind of end-to-end
Keras model as the RNNs (raw strings in, P(positive) out), so the evaluate
stage, the CLI and the app treat them like any other model in the zoo
(`train.model: tfidf_logreg | nb_logreg`). The Keras models tokenise with the
same `standardize` and compute the same features, so their probabilities equal
scikit-learn's. Either also serves as the teacher that labels the unlabeled
reviews for distillation (`train.teacher`).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from imdb_sentiment.data.processed import Split, texts_of
from imdb_sentiment.modeling.layers import NgramVectorization, SparseLogistic, TfidfLogistic
from imdb_sentiment.modeling.text import standardize, tokenize

# tfidf_logreg's features: the most frequent word 1-2-grams
TFIDF_MAX_FEATURES = 200_000


@dataclass(frozen=True)
class NgramModel:
    """Which n-gram model, and its settings: `kind` tfidf_logreg | nb_logreg, `ngrams` the
    longest word n-gram of nb_logreg, `c` the inverse L2 strength of either (params.yaml's
    `train.teacher_ngrams` and `train.logreg_c`)."""

    kind: str
    ngrams: int
    c: float


def with_ngrams(tokens: list[str], n: int) -> list[str]:
    """Word 1- to n-grams, each joined by spaces, shortest first."""
    grams = list(tokens)
    for size in range(2, n + 1):
        grams += [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return grams


def with_bigrams(tokens: list[str]) -> list[str]:
    """Unigrams then bigrams joined by a space, as Keras' TextVectorization(ngrams=2) makes them."""
    return with_ngrams(tokens, 2)


def fit(
    texts: Sequence[str], labels: np.ndarray, c: float, seed: int
) -> tuple[TfidfVectorizer, LogisticRegression]:
    """Fit tf-idf (the TFIDF_MAX_FEATURES most frequent word 1-2-grams, min_df 2) and a
    liblinear logistic regression on training texts."""
    vectorizer = TfidfVectorizer(analyzer=with_bigrams, min_df=2, max_features=TFIDF_MAX_FEATURES)
    features = vectorizer.fit_transform(list(tokenize(texts)))
    model = LogisticRegression(C=c, solver="liblinear", random_state=seed, max_iter=1000)
    model.fit(features, labels)
    return vectorizer, model


def predict_proba(
    vectorizer: TfidfVectorizer, model: LogisticRegression, texts: Sequence[str]
) -> np.ndarray:
    return model.predict_proba(vectorizer.transform(list(tokenize(texts))))[:, 1]


def to_keras(vectorizer: TfidfVectorizer, model: LogisticRegression) -> keras.Model:
    """The fitted pair as an end-to-end Keras model: raw strings (batch,) -> P(positive) (batch,)."""
    vocabulary = vectorizer.get_feature_names_out().tolist()
    tfidf = NgramVectorization(
        standardize=standardize,
        split="whitespace",
        ngrams=2,
        output_mode="tf_idf",
        vocabulary=vocabulary,
        idf_weights=vectorizer.idf_.tolist(),
        name="vectorizer",
    )
    texts = keras.Input(shape=(), dtype="string", name="text")
    head = TfidfLogistic(len(vocabulary), name="logistic")
    prob = head(tfidf(texts))
    head.set_weights(
        [model.coef_.reshape(-1, 1).astype("float32"), model.intercept_.astype("float32")]
    )
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


def fit_nb(
    texts: Sequence[str], labels: np.ndarray, ngrams: int, c: float, seed: int, alpha: float = 1.0
) -> NBLogistic:
    """Fit NB-weighted logistic regression on binary word 1-to-`ngrams`-grams seen twice or more.

    r = log((p / |p|_1) / (q / |q|_1)), where p and q are the `alpha`-smoothed
    counts of each n-gram in positive and negative reviews.
    """
    vectorizer = CountVectorizer(
        analyzer=lambda tokens: with_ngrams(tokens, ngrams), binary=True, min_df=2
    )
    features = vectorizer.fit_transform(list(tokenize(texts)))
    labels = np.asarray(labels)
    positive = np.asarray(features[labels == 1].sum(axis=0)).ravel() + alpha
    negative = np.asarray(features[labels == 0].sum(axis=0)).ravel() + alpha
    ratios = sparse.diags(np.log((positive / positive.sum()) / (negative / negative.sum())))
    model = LogisticRegression(C=c, solver="liblinear", dual=True, random_state=seed, max_iter=1000)
    model.fit(features @ ratios, labels)
    return NBLogistic(vectorizer, ratios, model)


def nb_to_keras(nb: NBLogistic, ngrams: int) -> keras.Model:
    """The fitted NB model as an end-to-end Keras model: raw strings (batch,) -> P(positive).

    Binary n-gram features scaled by r, then weights w: the same as binary features
    times r * w, which is what the exported layer holds.
    """
    vocabulary = nb.vectorizer.get_feature_names_out().tolist()
    multi_hot = NgramVectorization(
        standardize=standardize,
        split="whitespace",
        ngrams=ngrams,
        output_mode="multi_hot",
        vocabulary=vocabulary,
        sparse=True,
        name="vectorizer",
    )
    texts = keras.Input(shape=(), dtype="string", name="text")
    head = SparseLogistic(len(vocabulary) + 1, name="logistic")  # + column 0, unseen n-grams
    prob = head(multi_hot(texts))
    weights = np.r_[0.0, nb.ratios.diagonal() * nb.model.coef_.ravel()]
    head.set_weights(
        [weights.reshape(-1, 1).astype("float32"), nb.model.intercept_.astype("float32")]
    )
    return keras.Model(texts, prob, name="nb_logreg")


def fit_model(spec: NgramModel, seed: int, data: dict[str, Split]) -> tuple[keras.Model, dict]:
    """The n-gram model `spec` names fitted on the `train` split, as the RNNs are, as an
    end-to-end Keras model, and its fit summary (scored on `val` when there is one)."""
    from sklearn.metrics import accuracy_score, log_loss

    texts = {name: texts_of(split) for name, split in data.items()}
    started = time.perf_counter()
    if spec.kind == "nb_logreg":
        nb = fit_nb(texts["train"], data["train"].labels, spec.ngrams, spec.c, seed)
        predict = nb.predict_proba
        model, parameters = nb_to_keras(nb, spec.ngrams), nb.model.coef_.size + 1
    else:
        vectorizer, logreg = fit(texts["train"], data["train"].labels, spec.c, seed)
        predict = functools.partial(predict_proba, vectorizer, logreg)
        model, parameters = to_keras(vectorizer, logreg), logreg.coef_.size + 1
    print(f"train: {spec.kind} fitted in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    summary: dict[str, float] = {"epochs_run": 1}
    if "val" in data:
        val_probs = predict(texts["val"])
        summary |= {
            "val_loss": round(float(log_loss(data["val"].labels, val_probs)), 6),
            "val_accuracy": round(float(accuracy_score(data["val"].labels, val_probs >= 0.5)), 6),
        }
    summary |= {
        "train_reviews": len(texts["train"]),
        **({"val_reviews": len(texts["val"])} if "val" in data else {}),
        "parameters": int(parameters),
    }
    return model, summary
