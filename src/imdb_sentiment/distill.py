"""Distillation: the 50,000 unlabeled reviews, labelled by an n-gram teacher, as extra training data.

`train.distill_unlabeled` adds the unlabeled reviews: an n-gram teacher
(`train.teacher`: NB-weighted logistic regression on word 1-3-grams, or the
`tfidf_logreg` baseline), fitted on the training part only, labels them with
its probabilities, and the network trains on those soft targets beside the real
labels. Validation stays labelled data, unseen by the teacher.

`train.augment_copies` adds altered copies of the unlabeled reviews (a random
window of each, with some words dropped), labelled by the same teacher: the
teacher costs little per review, so the network gets more of the teacher's
behaviour to learn from than the 50,000 reviews alone show.

The same fitted teacher, as an end-to-end Keras model, can also be part of the
saved model (`train.ensemble_teacher_share`, see `zoo.build_ensemble`).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imdb_sentiment import params as P
from imdb_sentiment import reviews
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.processed import Split, split_texts
from imdb_sentiment.text import encode, make_vectorizer, tokenize

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Teacher:
    """An n-gram model fitted on the training part: texts -> P(positive), the same model as an
    end-to-end Keras model, and what fitting it measured."""

    predict_proba: Callable[[Sequence[str]], np.ndarray]
    to_keras: Callable[[], keras.Model]
    val_probs: np.ndarray
    summary: dict


def fitted_teacher(cfg: P.TrainParams, seed: int, reviews_path: str | Path,
                   data: dict[str, Split]) -> Teacher:
    """The teacher `cfg.teacher`, fitted on the training part only, so validation stays unseen."""
    from sklearn.metrics import accuracy_score

    texts = split_texts(reviews_path, data)
    print(f"train: fitting the {cfg.teacher} teacher on {len(texts['train'])} reviews",
          file=sys.stderr)
    started = time.perf_counter()
    predict_proba, to_keras = fit_teacher(cfg, seed, texts["train"], data["train"].labels)
    val_probs = predict_proba(texts["val"])
    summary = {"teacher_val_accuracy": round(float(accuracy_score(data["val"].labels,
                                                                  val_probs >= 0.5)), 6),
               "teacher_seconds": round(time.perf_counter() - started, 1)}
    return Teacher(predict_proba, to_keras, val_probs, summary)


def teacher_labelled_unlabeled(cfg: P.TrainParams, seed: int, reviews_path: str | Path,
                               teacher: Teacher, vocabulary: list[str],
                               prep: P.PreprocessParams) -> tuple[Split, dict]:
    """The unlabeled reviews (and `cfg.augment_copies` altered copies), encoded like the
    training part, with the teacher's P(positive) as labels; and a summary."""
    unlabeled = reviews.read(reviews_path, split="unsup")["text"].tolist()
    if not unlabeled:
        raise PipelineError("train.distill_unlabeled is true but the table has no unlabeled reviews")
    print(f"train: labelling {len(unlabeled)} unlabeled reviews with the teacher",
          file=sys.stderr)
    started = time.perf_counter()
    unlabeled = unlabeled + augmented(unlabeled, cfg.augment_copies, cfg.augment_drop,
                                      cfg.augment_min_share, seed)
    targets = teacher.predict_proba(unlabeled).astype(np.float32)
    seconds = time.perf_counter() - started
    ids, offsets, _ = encode(make_vectorizer(vocabulary, ragged=True), unlabeled,
                             prep.max_len, prep.keep_tokens)
    summary = {"unlabeled_reviews": len(unlabeled) // (1 + cfg.augment_copies),
               "augmented_reviews": len(unlabeled) - len(unlabeled) // (1 + cfg.augment_copies),
               "teacher_positive_share": round(float((targets >= 0.5).mean()), 4),
               "teacher_seconds": round(teacher.summary["teacher_seconds"] + seconds, 1)}
    no_ids = np.full(len(unlabeled), -1, np.int32)
    return Split(ids, offsets, targets, no_ids), summary


def augmented(texts: list[str], copies: int, drop: float, min_share: float, seed: int
              ) -> list[str]:
    """`copies` altered versions of every text, copy by copy: the standardized words of a
    random window holding a share in [`min_share`, 1] of them, each then dropped with
    probability `drop` (the window's first word stays when all would go)."""
    if copies == 0:
        return []
    rng = np.random.default_rng([seed, 8128])
    words = list(tokenize(texts))
    out = []
    for _ in range(copies):
        for tokens in words:
            if not tokens:
                out.append("")
                continue
            size = max(1, round(len(tokens) * rng.uniform(min_share, 1.0)))
            start = int(rng.integers(0, len(tokens) - size + 1))
            window = tokens[start : start + size]
            kept = [token for token, roll in zip(window, rng.random(size)) if roll >= drop]
            out.append(" ".join(kept or window[:1]))
    return out


def fit_teacher(cfg: P.TrainParams, seed: int, texts: list[str], labels: np.ndarray
                ) -> tuple[Callable[[Sequence[str]], np.ndarray], Callable[[], keras.Model]]:
    """The n-gram model `cfg.teacher` fitted on (texts, labels): texts -> P(positive), and a
    function that makes the same model as an end-to-end Keras model."""
    from imdb_sentiment import baseline

    if cfg.teacher == "nb_logreg":
        nb = baseline.fit_nb(texts, labels, cfg.teacher_ngrams, cfg.logreg_c, seed)
        return nb.predict_proba, functools.partial(baseline.nb_to_keras, nb, cfg.teacher_ngrams)
    vectorizer, logreg = baseline.fit(texts, labels, cfg.tfidf_max_features, cfg.logreg_c, seed)
    return (functools.partial(baseline.predict_proba, vectorizer, logreg),
            functools.partial(baseline.to_keras, vectorizer, logreg))


def relabelled(unlabeled: Split, network_probs: np.ndarray, teacher_share: float) -> Split:
    """The unlabeled reviews with targets mixing the teacher's (their current labels) and a
    network's probabilities, for a round of self-training."""
    targets = teacher_share * unlabeled.labels + (1.0 - teacher_share) * network_probs
    return Split(unlabeled.ids, unlabeled.offsets, targets.astype(np.float32),
                 unlabeled.review_ids)


def concat_splits(first: Split, second: Split) -> Split:
    """One encoded split holding the reviews of both, with float labels."""
    return Split(
        ids=np.concatenate([first.ids, second.ids]),
        offsets=np.concatenate([first.offsets, second.offsets[1:] + first.offsets[-1]]),
        labels=np.concatenate([first.labels.astype(np.float32),
                               second.labels.astype(np.float32)]),
        review_ids=np.concatenate([first.review_ids, second.review_ids]),
    )
