"""Stage 3, train: a recurrent classifier from the zoo, exported as an end-to-end text model.

Training reads the encoded sequences from preprocess, batches reviews of
similar length together (padding changes nothing, so this changes speed, not
the result), stops early on validation loss and keeps the best weights. The
saved model puts the preprocess vectorizer in front of the network, so it
takes raw review strings.

`train.distill_unlabeled` adds the 50,000 unlabeled reviews: an n-gram teacher
(`train.teacher`: NB-weighted logistic regression on word 1-3-grams, or the
`tfidf_logreg` baseline), fitted on the training part only, labels them with
its probabilities, and the network trains on those soft targets beside the real
labels. Validation stays labelled data, unseen by the teacher.

`train.inter_op_threads` and `train.intra_op_threads` size TensorFlow's thread
pools before it starts (0 leaves TensorFlow's choice).

`train.distribute` builds and fits the model under a tf.distribute strategy
(all local GPUs, or a cluster described by TF_CONFIG); `train.batch_size` is per
replica. `train.mixed_precision` sets Keras' dtype policy while the model is
built and trained.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import random
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live

from imdb_sentiment import params as P
from imdb_sentiment import processed, reviews
from imdb_sentiment.artifacts import atomic_outputs, json_text
from imdb_sentiment.errors import PipelineError, exit_on_error
from imdb_sentiment.processed import Split
from imdb_sentiment.text import encode, make_vectorizer
from imdb_sentiment.zoo import (RECURRENT, TargetAccuracy, build_classifier, build_end_to_end,
                                set_thread_pools)

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def mirrored_devices() -> list[str] | None:
    """Devices to mirror over: TF's choice (all GPUs) if there is a GPU, else all CPU devices.

    Without a GPU, TF mirrors over CPU:0 alone; several logical CPU devices exist
    only when someone configured them (to simulate replicas), so use them all.
    """
    if tf.config.list_physical_devices("GPU"):
        return None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def thread_pools() -> str:
    """TensorFlow's thread-pool sizes as configured, for the log."""
    sizes = (tf.config.threading.get_inter_op_parallelism_threads(),
             tf.config.threading.get_intra_op_parallelism_threads())
    return ", ".join(f"{n or 'TensorFlow-chosen'} {kind}"
                     for n, kind in zip(sizes, ("inter-op", "intra-op")))


@functools.cache
def make_strategy(kind: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for `train.distribute`; "none" is TF's default (no-op) strategy.

    Create it before any other TensorFlow op: the multi-worker strategy must
    configure collective ops at start-up. One per process (hence the cache):
    a second MirroredStrategy's collectives clash with the first one's.
    """
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(mirrored_devices())
    if kind == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            print("train: warning: distribute=multi_worker but TF_CONFIG is not set: "
                  "training as a single worker", file=sys.stderr)
        # the cluster and this task's role come from the TF_CONFIG environment variable
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def distributed_fit(model: keras.Model, strategy: tf.distribute.Strategy) -> Iterator[None]:
    """Work around Keras 3 fit() bugs under a tf.distribute strategy, inside the block.

    Before fitting, Keras all-reduces the first batch across replicas only to
    learn its shapes: that fails when replicas get batches of different shapes
    (an odd batch split in two, a small validation set) and, with several
    workers, on any (x, y) batch. Here the model is built from the first local
    replica's batch instead. With several workers Keras also reduces each step's
    scalar logs along an axis they lack (keras-team/keras#20585,
    tensorflow/tensorflow#72388); there, per-step logs come from the first local
    replica: they only feed the progress bar, because epoch logs (history, early
    stopping, DVCLive) are read from metric variables summed over all replicas.
    Uses private Keras names; tests/test_distribute.py fails when they change.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    reduce_per_replica = tf_trainer.reduce_per_replica

    def reduce_first(values, distribution, reduction="auto"):
        return reduce_per_replica(values, distribution,
                                  "first" if reduction == "auto" else reduction)

    model._maybe_symbolic_build = symbolic_build
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        tf_trainer.reduce_per_replica = reduce_first
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = reduce_per_replica
        del model._maybe_symbolic_build  # the instance attribute shadowed the method


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to `name` inside the block, restored after it."""
    if name == "none":
        yield
        return
    if not tf.config.list_physical_devices("GPU"):
        print(f"train: warning: mixed_precision={name} but no GPU is visible; honouring it, "
              "but reduced precision on CPU is emulated and usually slower", file=sys.stderr)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        # later models in this process (the end-to-end wrapper, tests) must not inherit it
        keras.mixed_precision.set_global_policy(previous)


def bucket_boundaries(lengths: np.ndarray, n_buckets: int = 8) -> list[int]:
    """Length quantiles as bucket edges, so every bucket holds similar counts."""
    edges = np.quantile(lengths, np.linspace(0, 1, n_buckets + 1)[1:-1]).astype(int) + 1
    return sorted(set(int(e) for e in edges if e > 1))


def make_dataset(split: Split, batch_size: int, *, shuffle: bool, seed: int,
                 bucket_by_length: bool) -> tf.data.Dataset:
    """(token ids padded per batch, label) batches; optionally bucketed by length."""
    sequences = tf.RaggedTensor.from_row_splits(split.ids, split.offsets)
    labels = split.labels.astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((sequences, labels))
    ds = ds.map(lambda ids, y: (tf.concat([ids, tf.zeros([1], tf.int32)], 0), y))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if bucket_by_length and len(labels) > batch_size:
        boundaries = bucket_boundaries(split.lengths() + 1)
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda ids, y: tf.shape(ids)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        ds = ds.padded_batch(batch_size)
    options = tf.data.Options()
    options.deterministic = True
    # The data is in memory, not in files: multi-worker training shards by element
    # (every worker builds the same seeded pipeline). Ignored when not distributed.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


class LiveLogger(keras.callbacks.Callback):
    """Per-epoch metrics to DVCLive (train/..., validation/...), steps counting epochs from 1."""

    def __init__(self, live: Live):
        super().__init__()
        self.live = live
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        self.live.step = epoch + 1
        for name, value in (logs or {}).items():
            if name.startswith("val_"):
                self.live.log_metric(f"validation/{name[4:]}", float(value))
            elif name != "learning_rate":
                self.live.log_metric(f"train/{name}", float(value))
        self.live.log_metric("epoch_seconds", round(seconds, 2), plot=False)
        self.live.make_summary()


def train(cfg: P.TrainParams, seed: int, data: dict[str, Split],
          vocab_size: int, embeddings: np.ndarray | None = None, live: Live | None = None,
          verbose: int = 2, strategy: tf.distribute.Strategy | None = None
          ) -> tuple[keras.Model, dict]:
    """Fit the classifier on train, early-stopping on val; returns it and a summary.

    `strategy` defaults to the one `cfg.distribute` names.
    """
    if strategy is None:
        strategy = make_strategy(cfg.distribute)
    with precision_policy(cfg.mixed_precision):
        return _fit(cfg, seed, data, vocab_size, embeddings, live, verbose, strategy)


def compile_classifier(model: keras.Model, cfg: P.TrainParams) -> None:
    """Compile with `cfg`'s optimizer, learning rate and XLA choice; accuracy counts soft
    targets by their side of 0.5."""
    model.compile(
        optimizer=OPTIMIZERS[cfg.optimizer](learning_rate=cfg.learning_rate),
        loss="binary_crossentropy",
        metrics=[TargetAccuracy(name="accuracy")],
        jit_compile=cfg.jit_compile,
    )
    if cfg.jit_compile and not model.jit_compile:
        # Keras silently drops XLA whenever TensorFlow op determinism is on (always,
        # here); TensorFlow itself asks XLA for deterministic ops then
        # (xla_gpu_deterministic_ops), so keep XLA, as asked for.
        model._jit_compile = True


def _fit(cfg: P.TrainParams, seed: int, data: dict[str, Split],
         vocab_size: int, embeddings: np.ndarray | None, live: Live | None, verbose: int,
         strategy: tf.distribute.Strategy) -> tuple[keras.Model, dict]:
    """Build, compile and fit under `strategy` with the dtype policy already set."""
    set_determinism(seed)
    # Variables (model, optimizer, metrics) must be created under the scope to be mirrored.
    with strategy.scope():
        model = build_classifier(cfg, vocab_size, embeddings)
        compile_classifier(model, cfg)
    replicas = int(strategy.num_replicas_in_sync)
    # model.fit splits each batch across the replicas, so batch the global size
    global_batch = cfg.batch_size * replicas
    if cfg.distribute != "none":
        print(f"train: distribute={cfg.distribute}: {replicas} replica(s), "
              f"global batch {global_batch}", file=sys.stderr)
    train_ds = make_dataset(data["train"], global_batch, shuffle=True, seed=seed,
                            bucket_by_length=cfg.bucket_by_length)
    val_ds = make_dataset(data["val"], global_batch, shuffle=False, seed=seed,
                          bucket_by_length=cfg.bucket_by_length)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                      restore_best_weights=cfg.restore_best_weights),
    ]
    if live is not None:
        callbacks.append(LiveLogger(live))
    workaround = (distributed_fit(model, strategy) if cfg.distribute != "none"
                  else contextlib.nullcontext())
    started = time.perf_counter()
    with workaround:
        history = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs,
                            callbacks=callbacks, verbose=verbose, shuffle=False)
    seconds = time.perf_counter() - started
    check_finite(history.history)
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    summary = {
        "epochs_run": len(val_loss),
        "best_epoch": best + 1,
        "best_val_loss": round(float(val_loss[best]), 6),
        "best_val_accuracy": round(float(history.history["val_accuracy"][best]), 6),
        "train_seconds": round(seconds, 1),
        "train_reviews": len(data["train"]),
        "val_reviews": len(data["val"]),
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
                    "(lower train.learning_rate?)")
    if not history.get("loss"):
        raise PipelineError("train: the loss became NaN or infinite in the first epoch; "
                            "nothing was saved (lower train.learning_rate?)")


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=P.PARAMS_FILE)
    parser.add_argument("--data", required=True, help="preprocess output directory")
    parser.add_argument("--reviews", required=True, help="table from ingest (texts for tfidf_logreg)")
    parser.add_argument("--model", required=True, help="output end-to-end model (.keras)")
    parser.add_argument("--live", required=True, help="DVCLive directory for training curves")
    args = parser.parse_args(argv)

    cfg: P.TrainParams = P.load("train", args.params)
    if not set_thread_pools(cfg.inter_op_threads, cfg.intra_op_threads):
        print("train: warning: TensorFlow was already running, so train.inter_op_threads and "
              "train.intra_op_threads were not applied", file=sys.stderr)
    print(f"train: TensorFlow thread pools: {thread_pools()}", file=sys.stderr)
    seed = P.load_seed(args.params)
    prep, prep_seed = processed.load_config(args.data)
    data = {name: processed.load_split(args.data, name) for name in ("train", "val")}
    vocabulary = processed.load_vocabulary(args.data)
    embeddings = pretrained_embeddings(cfg, args.data)
    print(f"train: {cfg.model} on {len(data['train'])} reviews, "
          f"validating on {len(data['val'])}", file=sys.stderr)
    # In a multi-worker cluster every task trains, but only the chief writes outputs
    # (the others hold identical weights); elsewhere this is always true.
    strategy = make_strategy(cfg.distribute)
    if not strategy.extended.should_checkpoint:
        _, summary = fit(cfg, seed, args.reviews, data, vocabulary, embeddings, prep, None,
                         strategy)
        print(f"train: {json.dumps(summary)}; not the chief, so the chief writes the outputs",
              file=sys.stderr)
        return
    # All three outputs are replaced together, only once training has succeeded.
    card_path = model_card_path(args.model)
    with atomic_outputs((args.live, True), (args.model, False), (card_path, False)) as (
            live_dir, model_tmp, card_tmp):
        with Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False) as live:
            model, summary = fit(cfg, seed, args.reviews, data, vocabulary, embeddings, prep,
                                 live, strategy)
            live.summary.update({"best_val_accuracy": summary["best_val_accuracy"],
                                 "best_val_loss": summary["best_val_loss"]})
        save_keras(model, model_tmp)
        card = {"train": P.to_dict(cfg), "seed": seed,
                "preprocess": {**P.to_dict(prep), "seed": prep_seed}, "fit": summary}
        card_tmp.write_text(json_text(card), encoding="utf-8")
    print(f"train: {json.dumps(summary)} -> {args.model}", file=sys.stderr)


def pretrained_embeddings(cfg: P.TrainParams, data_dir: str | Path) -> np.ndarray | None:
    """Preprocess's word vectors when the model starts from them."""
    if not cfg.pretrained_embeddings or cfg.model not in RECURRENT:
        return None
    embeddings = processed.load_embeddings(data_dir)
    if embeddings is None:
        raise PipelineError("train.pretrained_embeddings is true but preprocess wrote no word "
                            "vectors: set preprocess.pretrain_dim > 0")
    return embeddings


def fit(cfg: P.TrainParams, seed: int, reviews_path: str, data: dict[str, Split],
        vocabulary: list[str], embeddings: np.ndarray | None, prep: P.PreprocessParams,
        live: Live | None, strategy: tf.distribute.Strategy) -> tuple[keras.Model, dict]:
    """The end-to-end text model `cfg.model` names, fitted, and its fit summary."""
    if cfg.model == "tfidf_logreg":
        return fit_baseline(cfg, seed, reviews_path, data)
    distilled = {}
    if cfg.distill_unlabeled:
        unlabeled, distilled = teacher_labelled_unlabeled(cfg, seed, reviews_path, data,
                                                          vocabulary, prep)
        data = {**data, "train": concat_splits(data["train"], unlabeled)}
    classifier, summary = train(cfg, seed, data, len(vocabulary) + 2, embeddings, live,
                                verbose=1 if sys.stderr.isatty() else 2, strategy=strategy)
    model = build_end_to_end(make_vectorizer(vocabulary), classifier, prep.max_len,
                             prep.keep_tokens)
    return model, {**summary, **distilled}


def fit_baseline(cfg: P.TrainParams, seed: int, reviews_path: str,
                 data: dict[str, Split]) -> tuple[keras.Model, dict]:
    """TF-IDF + logistic regression on the same train/val split as the RNNs."""
    from sklearn.metrics import accuracy_score, log_loss

    from imdb_sentiment import baseline

    texts = split_texts(reviews_path, data)
    started = time.perf_counter()
    vectorizer, logreg = baseline.fit(texts["train"], data["train"].labels,
                                      cfg.tfidf_max_features, cfg.logreg_c, seed)
    seconds = time.perf_counter() - started
    val_probs = baseline.predict_proba(vectorizer, logreg, texts["val"])
    summary = {
        "epochs_run": 1,
        "best_epoch": 1,
        "best_val_loss": round(float(log_loss(data["val"].labels, val_probs)), 6),
        "best_val_accuracy": round(float(accuracy_score(data["val"].labels, val_probs >= 0.5)), 6),
        "train_seconds": round(seconds, 1),
        "train_reviews": len(texts["train"]),
        "val_reviews": len(texts["val"]),
        "parameters": int(logreg.coef_.size + 1),
    }
    return baseline.to_keras(vectorizer, logreg), summary


def split_texts(reviews_path: str | Path, data: dict[str, Split]) -> dict[str, list[str]]:
    """The review texts of each encoded split of the official train set, in split order."""
    train_table = reviews.read(reviews_path, split="train")
    # review ids restart in each class folder, so a review is (label, id)
    text_of = dict(zip(zip(train_table["label"], train_table["id"]), train_table["text"]))
    try:
        return {name: [text_of[key] for key in zip(split.labels, split.review_ids)]
                for name, split in data.items()}
    except KeyError as err:
        raise PipelineError(f"review {err} of the preprocessed data is not in {reviews_path}: "
                            "the two come from different ingest runs") from None


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
    targets = teacher(unlabeled).astype(np.float32)
    val_probs = teacher(texts["val"])
    seconds = time.perf_counter() - started
    ids, offsets, _ = encode(make_vectorizer(vocabulary, ragged=True), unlabeled,
                             prep.max_len, prep.keep_tokens)
    summary = {"unlabeled_reviews": len(unlabeled),
               "teacher_val_accuracy": round(float(accuracy_score(data["val"].labels,
                                                                  val_probs >= 0.5)), 6),
               "teacher_positive_share": round(float((targets >= 0.5).mean()), 4),
               "teacher_seconds": round(seconds, 1)}
    no_ids = np.full(len(unlabeled), -1, np.int32)
    return Split(ids, offsets, targets, no_ids), summary


def fit_teacher(cfg: P.TrainParams, seed: int, texts: list[str], labels: np.ndarray
                ) -> Callable[[list[str]], np.ndarray]:
    """The n-gram model `cfg.teacher` fitted on (texts, labels), as texts -> P(positive)."""
    from imdb_sentiment import baseline

    if cfg.teacher == "nb_logreg":
        return baseline.fit_nb(texts, labels, cfg.teacher_ngrams, cfg.logreg_c, seed).predict_proba
    vectorizer, logreg = baseline.fit(texts, labels, cfg.tfidf_max_features, cfg.logreg_c, seed)
    return functools.partial(baseline.predict_proba, vectorizer, logreg)


def concat_splits(first: Split, second: Split) -> Split:
    """One encoded split holding the reviews of both, with float labels."""
    return Split(
        ids=np.concatenate([first.ids, second.ids]),
        offsets=np.concatenate([first.offsets, second.offsets[1:] + first.offsets[-1]]),
        labels=np.concatenate([first.labels.astype(np.float32),
                               second.labels.astype(np.float32)]),
        review_ids=np.concatenate([first.review_ids, second.review_ids]),
    )


def save_keras(model: keras.Model, path: Path) -> None:
    """`model.save`, made byte-identical for identical models: Keras stamps the save time
    (entry dates, metadata.json) and Python object addresses (shared_object_id) into the
    archive, rewritten here as fixed dates and ids numbered in order of appearance."""
    model.save(path)
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for name, data in entries:
            if name == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata, sort_keys=True).encode()
            elif name == "config.json":
                data = json.dumps(_renumber_shared_objects(json.loads(data), {})).encode()
            target.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def _renumber_shared_objects(node, ids: dict[int, int]):
    """`node` with every shared_object_id replaced by its rank of first appearance."""
    if isinstance(node, dict):
        return {key: (ids.setdefault(value, len(ids)) if key == "shared_object_id"
                      else _renumber_shared_objects(value, ids))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_renumber_shared_objects(value, ids) for value in node]
    return node


def model_card_path(model_path: str | Path) -> Path:
    """The params file saved next to a model: models/model.keras -> models/model.params.json."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".params.json")


if __name__ == "__main__":
    main()
