"""Distillation: the 50,000 unlabeled reviews, labelled by an n-gram teacher, as extra training data.

`train.distill_unlabeled` adds the unlabeled reviews: an n-gram teacher
(`train.teacher`: NB-weighted logistic regression on word 1-3-grams, or the
`tfidf_logreg` baseline), fitted on the labelled training reviews only, labels them with
its probabilities, and the network trains on those soft targets beside the real
labels. The teacher learns the labelled reviews the network learns: by default
(`train.fit_on_validation`) validation's too; held out, neither sees them. The teacher
is not part of the saved model.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imdb_sentiment.core import params as P
from imdb_sentiment.data import reviews
from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.data.processed import Split, split_texts
from imdb_sentiment.modeling.text import encode, make_vectorizer


@dataclass(frozen=True)
class Teacher:
    """An n-gram model fitted on the `train` split: texts -> P(positive), and what fitting it
    measured."""

    predict_proba: Callable[[Sequence[str]], np.ndarray]
    summary: dict


def fitted_teacher(
    cfg: P.TrainParams, seed: int, reviews_path: str | Path, data: dict[str, Split]
) -> Teacher:
    """The teacher `cfg.teacher`, fitted on the `train` split only (validation's reviews
    included under `train.fit_on_validation`), and scored on `val` when it is held out."""
    from sklearn.metrics import accuracy_score

    texts = split_texts(reviews_path, data)
    print(
        f"train: fitting the {cfg.teacher} teacher on {len(texts['train'])} reviews",
        file=sys.stderr,
    )
    started = time.perf_counter()
    predict_proba = fit_teacher(cfg, seed, texts["train"], data["train"].labels)
    print(f"train: teacher fitted in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    summary = {}
    if "val" in data:
        val_probs = predict_proba(texts["val"])
        summary["teacher_val_accuracy"] = round(
            float(accuracy_score(data["val"].labels, val_probs >= 0.5)), 6
        )
    return Teacher(predict_proba, summary)


def teacher_labelled_unlabeled(
    reviews_path: str | Path, teacher: Teacher, vocabulary: list[str], prep: P.PreprocessParams
) -> tuple[Split, dict]:
    """The unlabeled reviews, encoded like the training part, with the teacher's P(positive) as
    labels; and a summary."""
    unlabeled = reviews.read(reviews_path, split="unsup")["text"].tolist()
    if not unlabeled:
        raise PipelineError(
            "train.distill_unlabeled is true but the table has no unlabeled reviews"
        )
    print(f"train: labelling {len(unlabeled)} unlabeled reviews with the teacher", file=sys.stderr)
    targets = teacher.predict_proba(unlabeled).astype(np.float32)
    ids, offsets, _ = encode(
        make_vectorizer(vocabulary, ragged=True), unlabeled, prep.max_len, prep.keep_tokens
    )
    summary = {
        "unlabeled_reviews": len(unlabeled),
        "teacher_positive_share": round(float((targets >= 0.5).mean()), 4),
    }
    no_ids = np.full(len(unlabeled), -1, np.int32)
    return Split(ids, offsets, targets, no_ids), summary


def fit_teacher(
    cfg: P.TrainParams, seed: int, texts: list[str], labels: np.ndarray
) -> Callable[[Sequence[str]], np.ndarray]:
    """The n-gram model `cfg.teacher` fitted on (texts, labels): texts -> P(positive)."""
    from imdb_sentiment.modeling import ngram

    if cfg.teacher == "nb_logreg":
        return ngram.fit_nb(texts, labels, cfg.teacher_ngrams, cfg.logreg_c, seed).predict_proba
    vectorizer, logreg = ngram.fit(texts, labels, cfg.tfidf_max_features, cfg.logreg_c, seed)
    return functools.partial(ngram.predict_proba, vectorizer, logreg)
