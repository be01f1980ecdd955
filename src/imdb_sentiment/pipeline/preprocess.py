"""Stage 2, preprocess: movie-disjoint train/validation split, vocabulary, encoded sequences.

The vocabulary is fitted on the training part only. Validation is split from
the official train set by movie, so no film is reviewed on both sides (a random
split leaks and makes validation optimistic). The unlabeled reviews are encoded
for distillation and, with the training part, teach the word vectors. The official
test set is only encoded for the report's statistics, never written and never looked
at for any choice: the evaluate stage scores its raw text.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from imdb_sentiment.core import params as P
from imdb_sentiment.core.artifacts import atomic_outputs, json_text
from imdb_sentiment.core.errors import PipelineError, exit_on_error
from imdb_sentiment.data import processed, reviews
from imdb_sentiment.data.embeddings import pretrain
from imdb_sentiment.modeling.text import build_vocabulary, encode, make_vectorizer


def split_by_movie(train: pd.DataFrame, val_fraction: float, seed: int) -> pd.Series:
    """A boolean mask of validation rows: stratified by label, no movie on both sides."""
    n_splits = max(2, round(1 / val_fraction))
    if train["movie"].nunique() < n_splits:
        raise PipelineError(
            f"preprocess: {train['movie'].nunique()} movies are too few for "
            f"val_fraction={val_fraction}"
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, val_index = next(folds.split(train, train["label"], groups=train["movie"]))
    mask = np.zeros(len(train), dtype=bool)
    mask[val_index] = True
    return pd.Series(mask, index=train.index)


def make_splits(reviews: pd.DataFrame, val_fraction: float, seed: int) -> dict[str, pd.DataFrame]:
    """train/val from the official train set; test and the unlabeled reviews untouched."""
    train = reviews[reviews["split"] == "train"].reset_index(drop=True)
    test = reviews[reviews["split"] == "test"].reset_index(drop=True)
    for name, part in (("train", train), ("test", test)):
        if part["label"].nunique() < 2:
            raise PipelineError(
                f"preprocess: the {name} reviews need both classes, "
                f"found {sorted(part['label'].unique().tolist())}"
            )
    is_val = split_by_movie(train, val_fraction, seed)
    return {
        "train": train[~is_val].reset_index(drop=True),
        "val": train[is_val].reset_index(drop=True),
        "test": test,
        processed.UNLABELED: reviews[reviews["split"] == "unsup"].reset_index(drop=True),
    }


def encode_splits(
    splits: dict[str, pd.DataFrame], vocabulary: list[str], max_len: int, keep: str = "first"
) -> tuple[dict[str, processed.Split], dict]:
    """Encoded arrays (with texts) per split and a report of OOV rate and truncation."""
    vectorizer = make_vectorizer(vocabulary, ragged=True)
    arrays, report = {}, {}
    for name, frame in splits.items():
        texts = frame["text"].tolist()
        ids, offsets, truncated = encode(vectorizer, texts, max_len, keep)
        arrays[name] = processed.Split(
            ids, offsets, frame["label"].to_numpy(np.int8), frame["id"].to_numpy(np.int32), texts
        )
        lengths = np.diff(offsets)
        labelled = name != processed.UNLABELED
        report[name] = {
            "reviews": len(frame),
            **(
                {"positive_share": round(float(frame["label"].mean()), 4)}
                if labelled and len(frame)
                else {}
            ),
            "movies": int(frame["movie"].nunique()),
            "oov_rate": round(float((ids == 1).mean()) if len(ids) else 0.0, 4),
            "truncated_share": round(truncated / max(len(frame), 1), 4),
            "tokens_median": float(np.median(lengths)) if len(lengths) else 0.0,
        }
    return arrays, report


def pretrain_embeddings(
    texts: list[str], vocabulary: list[str], cfg: P.PreprocessParams, seed: int
) -> np.ndarray:
    """PPMI-SVD word vectors from unlabeled use of `texts` (whole reviews, no truncation)."""
    ids, offsets, _ = encode(make_vectorizer(vocabulary, ragged=True), texts, max_len=1 << 30)
    return pretrain(ids, offsets, len(vocabulary) + 2, cfg.pretrain_dim, seed)


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=P.PARAMS_FILE)
    parser.add_argument("--reviews", required=True, help="input table from ingest")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--report", required=True, help="output report (json)")
    args = parser.parse_args(argv)

    cfg: P.PreprocessParams = P.load("preprocess", args.params)
    seed = P.load_seed(args.params)
    table = reviews.read(args.reviews)
    splits = make_splits(table, cfg.val_fraction, seed)
    print(
        f"preprocess: building vocabulary from {len(splits['train'])} training reviews",
        file=sys.stderr,
    )
    vocabulary = build_vocabulary(splits["train"]["text"], cfg.vocab_size, cfg.min_count)
    if not vocabulary:
        raise PipelineError(
            f"preprocess: no training token occurs preprocess.min_count = "
            f"{cfg.min_count} times or more: the vocabulary would be empty"
        )
    arrays, report = encode_splits(splits, vocabulary, cfg.max_len, cfg.keep_tokens)
    shared = set(splits["train"]["movie"]) & set(splits["val"]["movie"])
    if shared:
        raise PipelineError(f"preprocess: {len(shared)} movies are on both sides of the split")
    report["vocabulary_size"] = len(vocabulary) + 2
    embeddings = None
    if cfg.pretrain_dim:
        texts = splits["train"]["text"].tolist() + splits[processed.UNLABELED]["text"].tolist()
        print(
            f"preprocess: pretraining {cfg.pretrain_dim}-d word vectors on {len(texts)} reviews",
            file=sys.stderr,
        )
        embeddings = pretrain_embeddings(texts, vocabulary, cfg, seed)
        report["pretrain_reviews"] = len(texts)
    with atomic_outputs((args.out, True), (args.report, False)) as (out, report_path):
        written = {name: arrays[name] for name in processed.SPLITS}
        processed.write(out, vocabulary, written, embeddings, cfg, seed)
        report_path.write_text(json_text(report), encoding="utf-8")
    print(f"preprocess: {report}", file=sys.stderr)


if __name__ == "__main__":
    main()
