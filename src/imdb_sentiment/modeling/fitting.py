"""Fitting a recurrent classifier: seeded, length-bucketed batches, a fixed epoch count, curves.

Reviews of similar length are batched together (with masking on, padding
changes nothing, so this changes speed, not the result). The fit runs `train.epochs` epochs
and keeps the last weights: validation, when `data` holds it out, is scored after each epoch
for the curves and DVCLive, but nothing in the fit reads its score. (With
`train.fit_on_validation`, validation's reviews are in `train` and nothing is scored.)
`train.adversarial_epsilon` adds adversarial training (`adversarial`).
`train.distribute`, `train.mixed_precision` and `train.jit_compile` are
handled by `scaling`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live

from imdb_sentiment.core import params as P
from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.data.processed import Split
from imdb_sentiment.modeling.adversarial import AdversarialFit
from imdb_sentiment.modeling.layers import TargetAccuracy
from imdb_sentiment.modeling.scaling import (
    distributed_fit,
    keep_jit_compile,
    make_strategy,
    precision_policy,
)
from imdb_sentiment.modeling.zoo import Network, build_classifier


@dataclass(frozen=True)
class FitSettings:
    """How a classifier is fitted; each field is the `train` key of its name in params.yaml,
    which documents it and holds its default."""

    epochs: int
    batch_size: int
    learning_rate: float
    bucket_by_length: bool
    jit_compile: bool
    distribute: str
    mixed_precision: str
    adversarial_epsilon: float


def fit_settings_of(params: P.TrainParams) -> FitSettings:
    """The fit params.yaml's `train` section describes."""
    return FitSettings(
        **{field.name: getattr(params, field.name) for field in dataclasses.fields(FitSettings)}
    )


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def thread_pools() -> str:
    """TensorFlow's thread-pool sizes as configured, for the log."""
    sizes = (
        tf.config.threading.get_inter_op_parallelism_threads(),
        tf.config.threading.get_intra_op_parallelism_threads(),
    )
    return ", ".join(
        f"{n or 'TensorFlow-chosen'} {kind}" for n, kind in zip(sizes, ("inter-op", "intra-op"))
    )


def bucket_boundaries(lengths: np.ndarray, n_buckets: int = 8) -> list[int]:
    """Length quantiles as bucket edges, so every bucket holds similar counts."""
    edges = np.quantile(lengths, np.linspace(0, 1, n_buckets + 1)[1:-1]).astype(int) + 1
    return sorted(set(int(e) for e in edges if e > 1))


def batch_count(lengths: np.ndarray, boundaries: list[int], batch_size: int) -> int:
    """The batches of `batch_size` that bucketing by `boundaries` makes of elements of these
    lengths (no boundaries: one bucket); each bucket's last batch may be short."""
    per_bucket = np.bincount(
        np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1
    )
    return int(sum(math.ceil(n / batch_size) for n in per_bucket))


def make_dataset(
    split: Split, batch_size: int, *, shuffle: bool, seed: int, bucket_by_length: bool
) -> tf.data.Dataset:
    """(token ids padded per batch, label) batches; optionally bucketed by length.

    Every review ends in one padding step. With `shuffle`, each pass over the dataset (each
    epoch) takes the review order from the next of tf.data's seeded shuffles. The batches
    are those of tf.data's `bucket_by_sequence_length` over that order (`bucketed`), built
    with NumPy: tf.data's per-review ops took cores from training (docs/lab/decisions.md).
    """
    lengths = split.lengths() + 1
    labels = split.labels.astype(np.float32)
    boundaries: list[int] = []
    if bucket_by_length and len(labels) > batch_size:
        boundaries = bucket_boundaries(lengths)
    buckets = np.searchsorted(boundaries, lengths, side="right")
    orders = tf.data.Dataset.range(len(labels))
    if shuffle:
        orders = orders.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)

    def batches(order: np.ndarray):
        for rows in bucketed(order, buckets, batch_size):
            yield padded_rows(split, rows, int(lengths[rows].max())), labels[rows]

    signature = (
        tf.TensorSpec([None, None], tf.as_dtype(split.ids.dtype)),
        tf.TensorSpec([None], tf.float32),
    )
    # The order is an input of the generator, not drawn inside it: a pass over the dataset
    # then draws its shuffle when it starts, as a shuffle of the reviews themselves would.
    ds = orders.batch(max(len(labels), 1)).flat_map(
        lambda order: tf.data.Dataset.from_generator(
            batches, args=(order,), output_signature=signature
        )
    )
    # Declared, the batch count lets Keras show progress out of it in the first epoch too,
    # and not warn that the input "ran out of data".
    ds = ds.apply(
        tf.data.experimental.assert_cardinality(batch_count(lengths, boundaries, batch_size))
    )
    options = tf.data.Options()
    options.deterministic = True
    # tf.data's autotuning stalled training now and then for seconds (docs/lab/decisions.md);
    # one generator feeds the batches, so there is nothing for it to tune.
    options.autotune.enabled = False
    # The data is in memory, not in files: multi-worker training shards by element
    # (every worker builds the same seeded pipeline). Ignored when not distributed.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(2)


def bucketed(order: np.ndarray, buckets: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Row numbers, batch by batch, as tf.data's `group_by_window` groups them: taken in
    `order`, each row joins the open batch of its bucket, which is emitted once it holds
    `batch_size` rows; at the end the unfilled batches follow, lowest bucket first."""
    keys = buckets.tolist()
    open_batches: dict[int, list[int]] = {}
    for row in order.tolist():
        batch = open_batches.setdefault(keys[row], [])
        batch.append(row)
        if len(batch) == batch_size:
            yield np.array(batch)
            del open_batches[keys[row]]
    for key in sorted(open_batches):
        yield np.array(open_batches[key])


def padded_rows(split: Split, rows: np.ndarray, width: int) -> np.ndarray:
    """The token ids of reviews `rows` of `split`, one per line, padded with 0 to `width`."""
    starts = split.offsets[rows]
    counts = split.offsets[rows + 1] - starts
    line = np.repeat(np.arange(len(rows)), counts)
    column = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.zeros((len(rows), width), split.ids.dtype)
    out[line, column] = split.ids[np.repeat(starts, counts) + column]
    return out


class LiveLogger(keras.callbacks.Callback):
    """Per-epoch metrics to DVCLive (train/..., validation/...), steps counting epochs from 1,
    written as each epoch ends so `dvc plots show` follows a running fit."""

    def __init__(self, live: Live):
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch, logs=None):
        self.live.step = epoch + 1
        for name, value in (logs or {}).items():
            if name.startswith("val_"):
                self.live.log_metric(f"validation/{name[4:]}", float(value))
            elif name != "learning_rate":
                self.live.log_metric(f"train/{name}", float(value))
        self.live.make_summary()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


class ProgressLines(keras.callbacks.Callback):
    """Plain progress lines with the time left, for logs (a terminal gets Keras' bar too):
    one every `every` seconds within an epoch, and one as each epoch ends."""

    def __init__(self, epochs: int, every: float = 60.0, within_epochs: bool = True, stream=None):
        super().__init__()
        self.epochs, self.every, self.within_epochs = epochs, every, within_epochs
        self.stream = stream or sys.stderr
        self.steps: int | None = None  # known once an epoch has run (bucketed data has no length)
        self.fit_started = self.epoch_started = self.last_line = 0.0
        self.epoch = self.batches = 0

    def _say(self, text: str) -> None:
        print(f"train: {text}", file=self.stream, flush=True)
        self.last_line = time.perf_counter()

    def on_train_begin(self, logs=None):
        self.fit_started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_started = epoch, time.perf_counter()
        self.last_line = self.epoch_started

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1
        now = time.perf_counter()
        if not self.within_epochs or now - self.last_line < self.every:
            return
        done = batch + 1
        elapsed = now - self.epoch_started
        if self.steps:
            left = elapsed / done * (self.steps - done) + (self.epochs - self.epoch - 1) * (
                elapsed / done * self.steps
            )
            self._say(
                f"epoch {self.epoch + 1}/{self.epochs}, batch {done}/{self.steps} "
                f"({done / self.steps:.0%}), about {_minutes(left)} left"
            )
        else:
            self._say(
                f"epoch {self.epoch + 1}/{self.epochs}, batch {done}, "
                f"{_minutes(elapsed)} into the first epoch (the time left is known "
                f"after it)"
            )

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if self.steps is None:
            self.steps = self.params.get("steps") or self.batches or None
        per_epoch = (now - self.fit_started) / (epoch + 1)
        self._say(
            f"epoch {epoch + 1}/{self.epochs} done in {_minutes(now - self.epoch_started)}"
            f", about {_minutes(per_epoch * (self.epochs - epoch - 1))} left"
        )


def train(
    network: Network,
    settings: FitSettings,
    seed: int,
    data: dict[str, Split],
    vocab_size: int,
    embeddings: np.ndarray | None = None,
    live: Live | None = None,
    verbose: int = 2,
    strategy: tf.distribute.Strategy | None = None,
) -> tuple[keras.Model, dict]:
    """Fit the classifier `network` on `train` for `settings.epochs` epochs, scoring `val` (if
    any) after each; returns it and a summary.

    `strategy` defaults to the one `settings.distribute` names.
    """
    if strategy is None:
        strategy = make_strategy(settings.distribute)
    with precision_policy(settings.mixed_precision):
        return _fit(network, settings, seed, data, vocab_size, embeddings, live, verbose, strategy)


def compile_classifier(model: keras.Model, settings: FitSettings) -> None:
    """Compile for Adam at the learning rate of `settings`, with its XLA choice; accuracy
    counts soft targets by their side of 0.5."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=settings.learning_rate),
        loss="binary_crossentropy",
        metrics=[TargetAccuracy(name="accuracy")],
        jit_compile=settings.jit_compile,
    )
    if settings.jit_compile:
        keep_jit_compile(model)


def _fit(
    network: Network,
    settings: FitSettings,
    seed: int,
    data: dict[str, Split],
    vocab_size: int,
    embeddings: np.ndarray | None,
    live: Live | None,
    verbose: int,
    strategy: tf.distribute.Strategy,
) -> tuple[keras.Model, dict]:
    """Build, compile and fit under `strategy` with the dtype policy already set."""
    set_determinism(seed)
    # Variables (model, optimizer, metrics) must be created under the scope to be mirrored.
    with strategy.scope():
        model = build_classifier(network, vocab_size, embeddings)
    replicas = int(strategy.num_replicas_in_sync)
    # model.fit splits each batch across the replicas, so batch the global size
    global_batch = settings.batch_size * replicas
    train_ds = make_dataset(
        data["train"],
        global_batch,
        shuffle=True,
        seed=seed,
        bucket_by_length=settings.bucket_by_length,
    )
    with strategy.scope():
        fitted = (
            AdversarialFit(model, settings.adversarial_epsilon)
            if settings.adversarial_epsilon
            else model
        )
        compile_classifier(fitted, settings)
    if settings.distribute != "none":
        print(
            f"train: distribute={settings.distribute}: {replicas} replica(s), "
            f"global batch {global_batch}",
            file=sys.stderr,
        )
    val_ds = (
        make_dataset(
            data["val"],
            global_batch,
            shuffle=False,
            seed=seed,
            bucket_by_length=settings.bucket_by_length,
        )
        if "val" in data
        else None
    )
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if live is not None:
        callbacks.append(LiveLogger(live))
    callbacks.append(ProgressLines(settings.epochs, within_epochs=verbose != 1))
    workaround = (
        distributed_fit(fitted, strategy)
        if settings.distribute != "none"
        else contextlib.nullcontext()
    )
    with workaround:
        history = fitted.fit(
            train_ds,
            validation_data=val_ds,
            epochs=settings.epochs,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )
    check_finite(history.history)
    if fitted is not model:
        # the sub-models that adversarial training cuts out of the classifier's graph
        # confuse Keras' saving, so the trained weights go into a fresh copy
        fresh = build_classifier(network, vocab_size)
        fresh.set_weights(model.get_weights())
        model = fresh
    summary: dict[str, float] = {"epochs_run": len(history.history["loss"])}
    if val_ds is not None:
        # the saved model's: the last epoch's, since no early stopping picks an epoch
        summary |= {
            "val_loss": round(float(history.history["val_loss"][-1]), 6),
            "val_accuracy": round(float(history.history["val_accuracy"][-1]), 6),
        }
    summary |= {
        "train_reviews": len(data["train"]),
        **({"val_reviews": len(data["val"])} if val_ds is not None else {}),
        "parameters": int(model.count_params()),
        "replicas": replicas,
        "global_batch_size": global_batch,
    }
    return model, summary


def check_finite(history: dict[str, list[float]]) -> None:
    """Stop with a PipelineError when a loss went NaN or infinite (TerminateOnNaN only stops)."""
    for name in ("loss", "val_loss"):
        for epoch, value in enumerate(history.get(name, []), 1):
            if not math.isfinite(value):
                raise PipelineError(
                    f"train: {name} became {value} in epoch {epoch}; nothing was saved "
                    "(lower train.learning_rate?)"
                )
    if not history.get("loss"):
        raise PipelineError(
            "train: the loss became NaN or infinite in the first epoch; "
            "nothing was saved (lower train.learning_rate?)"
        )
