"""What the training benchmarks share: the reviews as the pipeline encoded them, the train
stage's settings, and the thread pools a child process trains with."""

from __future__ import annotations

import numpy as np

from imdb_sentiment.core import params as P
from imdb_sentiment.core.startup import set_thread_pools
from imdb_sentiment.data import processed
from imdb_sentiment.data import reviews as review_table
from imdb_sentiment.data.processed import Split
from imdb_sentiment.modeling import text

from .harness import ROOT, paths

VOCAB_SIZE = 10_000


def stage_params() -> P.TrainParams:
    """The train stage's settings, as params.yaml has them."""
    return P.load("train", ROOT / P.PARAMS_FILE)


def encode(split: str, max_len: int, limit: int | None = None) -> Split:
    """Reviews of one part ("train": the training part, "test": the official test set),
    encoded with the top-10,000 training vocabulary, first `max_len` tokens, shuffled."""
    source = "test" if split == "test" else "train"
    reviews = review_table.read(paths()["reviews"], split=source)
    if split == "train":
        vocab_size = len(processed.load_vocabulary(paths()["processed"])) + 2
        part = processed.load_split(paths()["processed"], "train", vocab_size)
        keys = set(zip(part.labels.tolist(), part.review_ids.tolist()))
        reviews = reviews[[k in keys for k in zip(reviews["label"], reviews["id"])]]
    reviews = reviews.sample(frac=1.0, random_state=0)[:limit]
    vocabulary = processed.load_vocabulary(paths()["processed"])[: VOCAB_SIZE - 2]
    ids, offsets, _ = text.encode(
        text.make_vectorizer(vocabulary, ragged=True), reviews["text"].tolist(), max_len
    )
    return Split(ids, offsets, reviews["label"].to_numpy(np.int8), reviews["id"].to_numpy(np.int32))


def rows(data: Split) -> list[np.ndarray]:
    """Each review's token ids."""
    return np.split(data.ids, data.offsets[1:-1])


def thread_label(stage: P.TrainParams, threads: str | list[int]) -> str:
    """Thread pools as (inter-op, intra-op), 0 meaning TensorFlow's choice."""
    if threads == "stage":
        threads = [stage.inter_op_threads, stage.intra_op_threads]
    if threads == "default" or not any(threads):
        return "TensorFlow's default"
    return f"({threads[0]}, {threads[1]})"


def use_threads(threads: str | list[int]) -> None:
    """A child's thread pools, set before TensorFlow starts: the train stage's ("stage"),
    [inter, intra], or TensorFlow's own ("default")."""
    if threads == "stage":
        stage = stage_params()
        set_thread_pools(stage.inter_op_threads, stage.intra_op_threads)
    elif threads != "default":
        set_thread_pools(*threads)
