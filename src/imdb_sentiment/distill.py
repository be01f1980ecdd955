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
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imdb_sentiment import params as P
from imdb_sentiment import reviews
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.processed import Split, split_texts
from imdb_sentiment.text import encode, make_vectorizer, tokenize


def teacher_labelled_unlabeled(cfg: P.TrainParams, seed: int, reviews_path: str | Path,
                               data: dict[str, Split], vocabulary: list[str],
                               prep: P.PreprocessParams) -> tuple[Split, dict]:
    """The unlabeled reviews, encoded like the training part, with a teacher's P(positive) as labels.

    The teacher (`cfg.teacher`) is fitted on the training part only, so
    validation stays unseen. Returns the encoded split and a summary.
    """
    from sklearn.metrics import accuracy_score

    texts = split_texts(reviews_path, data)
    unlabeled = reviews.read(reviews_path, split="unsup")["text"].tolist()
    if not unlabeled:
        raise PipelineError("train.distill_unlabeled is true but the table has no unlabeled reviews")
    print(f"train: fitting the {cfg.teacher} teacher and labelling {len(unlabeled)} "
          "unlabeled reviews", file=sys.stderr)
    started = time.perf_counter()
    teacher = fit_teacher(cfg, seed, texts["train"], data["train"].labels)
    unlabeled = unlabeled + augmented(unlabeled, cfg.augment_copies, cfg.augment_drop,
                                      cfg.augment_min_share, seed)
    targets = teacher(unlabeled).astype(np.float32)
    val_probs = teacher(texts["val"])
    seconds = time.perf_counter() - started
    ids, offsets, _ = encode(make_vectorizer(vocabulary, ragged=True), unlabeled,
                             prep.max_len, prep.keep_tokens)
    summary = {"unlabeled_reviews": len(unlabeled) // (1 + cfg.augment_copies),
               "augmented_reviews": len(unlabeled) - len(unlabeled) // (1 + cfg.augment_copies),
               "teacher_val_accuracy": round(float(accuracy_score(data["val"].labels,
                                                                  val_probs >= 0.5)), 6),
               "teacher_positive_share": round(float((targets >= 0.5).mean()), 4),
               "teacher_seconds": round(seconds, 1)}
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
                ) -> Callable[[list[str]], np.ndarray]:
    """The n-gram model `cfg.teacher` fitted on (texts, labels), as texts -> P(positive)."""
    from imdb_sentiment import baseline

    if cfg.teacher == "nb_logreg":
        return baseline.fit_nb(texts, labels, cfg.teacher_ngrams, cfg.logreg_c, seed).predict_proba
    vectorizer, logreg = baseline.fit(texts, labels, cfg.tfidf_max_features, cfg.logreg_c, seed)
    return functools.partial(baseline.predict_proba, vectorizer, logreg)


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
