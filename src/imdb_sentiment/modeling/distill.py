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

import numpy as np

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.data.processed import Split, texts_of
from imdb_sentiment.modeling import ngram


@dataclass(frozen=True)
class Teacher:
    """An n-gram model fitted on the `train` split: texts -> P(positive), and what fitting it
    measured."""

    predict_proba: Callable[[Sequence[str]], np.ndarray]
    summary: dict


def fitted_teacher(spec: ngram.NgramModel, seed: int, data: dict[str, Split]) -> Teacher:
    """The n-gram teacher `spec` names, fitted on the `train` split's texts only (validation's
    reviews included under `train.fit_on_validation`), and scored on `val` when it is held
    out."""
    from sklearn.metrics import accuracy_score

    texts = {name: texts_of(split) for name, split in data.items()}
    print(
        f"train: fitting the {spec.kind} teacher on {len(texts['train'])} reviews",
        file=sys.stderr,
    )
    started = time.perf_counter()
    predict_proba = fit_teacher(spec, seed, texts["train"], data["train"].labels)
    print(f"train: teacher fitted in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    summary = {}
    if "val" in data:
        val_probs = predict_proba(texts["val"])
        summary["teacher_val_accuracy"] = round(
            float(accuracy_score(data["val"].labels, val_probs >= 0.5)), 6
        )
    return Teacher(predict_proba, summary)


def teacher_labelled(unlabeled: Split, teacher: Teacher) -> tuple[Split, dict]:
    """The unlabeled reviews with the teacher's P(positive) as labels; and a summary."""
    if not len(unlabeled):
        raise PipelineError(
            "train.distill_unlabeled is true but the preprocessed data has no unlabeled reviews"
        )
    print(f"train: labelling {len(unlabeled)} unlabeled reviews with the teacher", file=sys.stderr)
    targets = teacher.predict_proba(texts_of(unlabeled)).astype(np.float32)
    summary = {
        "unlabeled_reviews": len(unlabeled),
        "teacher_positive_share": round(float((targets >= 0.5).mean()), 4),
    }
    return Split(unlabeled.ids, unlabeled.offsets, targets, unlabeled.review_ids), summary


def fit_teacher(
    spec: ngram.NgramModel, seed: int, texts: list[str], labels: np.ndarray
) -> Callable[[Sequence[str]], np.ndarray]:
    """The n-gram model `spec` fitted on (texts, labels): texts -> P(positive)."""
    if spec.kind == "nb_logreg":
        return ngram.fit_nb(texts, labels, spec.ngrams, spec.c, seed).predict_proba
    vectorizer, logreg = ngram.fit(texts, labels, spec.c, seed)
    return functools.partial(ngram.predict_proba, vectorizer, logreg)
