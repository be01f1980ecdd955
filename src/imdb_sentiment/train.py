"""Stage 3, train: a recurrent classifier from the zoo, exported as an end-to-end text model.

Training reads the encoded sequences from preprocess, batches reviews of
similar length together (padding is masked, so this changes speed, not the
result), stops early on validation loss and keeps the best weights. The saved
model puts the preprocess vectorizer in front of the network, so it takes raw
review strings.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live

from imdb_sentiment import params as P
from imdb_sentiment import preprocess
from imdb_sentiment.artifacts import atomic_path, read_json, write_json
from imdb_sentiment.errors import PipelineError, exit_on_error
from imdb_sentiment.text import make_vectorizer
from imdb_sentiment.zoo import build_classifier, build_end_to_end

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


def bucket_boundaries(lengths: np.ndarray, n_buckets: int = 8) -> list[int]:
    """Length quantiles as bucket edges, so every bucket holds similar counts."""
    edges = np.quantile(lengths, np.linspace(0, 1, n_buckets + 1)[1:-1]).astype(int) + 1
    return sorted(set(int(e) for e in edges if e > 1))


def make_dataset(split: dict[str, np.ndarray], batch_size: int, *, shuffle: bool, seed: int,
                 bucket_by_length: bool) -> tf.data.Dataset:
    """(token ids padded per batch, label) batches; optionally bucketed by length."""
    sequences = tf.RaggedTensor.from_row_splits(split["ids"], split["offsets"])
    labels = split["labels"].astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((sequences, labels))
    ds = ds.map(lambda ids, y: (tf.concat([ids, tf.zeros([1], tf.int32)], 0), y))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if bucket_by_length and len(labels) > batch_size:
        boundaries = bucket_boundaries(np.diff(split["offsets"]) + 1)
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda ids, y: tf.shape(ids)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        ds = ds.padded_batch(batch_size)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


class LiveLogger(keras.callbacks.Callback):
    """Per-epoch metrics to DVCLive (train/..., eval/...) and one readable console line."""

    def __init__(self, live: Live):
        super().__init__()
        self.live = live
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        for name, value in (logs or {}).items():
            if name.startswith("val_"):
                self.live.log_metric(f"eval/{name[4:]}", float(value))
            elif name != "learning_rate":
                self.live.log_metric(f"train/{name}", float(value))
        self.live.log_metric("epoch_seconds", round(seconds, 2), plot=False)
        self.live.next_step()


def train(cfg: P.TrainParams, seed: int, data: dict[str, dict[str, np.ndarray]],
          vocab_size: int, embeddings: np.ndarray | None = None, live: Live | None = None,
          verbose: int = 2) -> tuple[keras.Model, dict]:
    """Fit the classifier on train, early-stopping on val; returns it and a summary."""
    set_determinism(seed)
    model = build_classifier(cfg, vocab_size, embeddings)
    model.compile(
        optimizer=OPTIMIZERS[cfg.optimizer](learning_rate=cfg.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=cfg.jit_compile,
    )
    train_ds = make_dataset(data["train"], cfg.batch_size, shuffle=True, seed=seed,
                            bucket_by_length=cfg.bucket_by_length)
    val_ds = make_dataset(data["val"], cfg.batch_size, shuffle=False, seed=seed,
                          bucket_by_length=cfg.bucket_by_length)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                      restore_best_weights=cfg.restore_best_weights)
    ]
    if live is not None:
        callbacks.append(LiveLogger(live))
    started = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs,
                        callbacks=callbacks, verbose=verbose, shuffle=False)
    seconds = time.perf_counter() - started
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    summary = {
        "epochs_run": len(val_loss),
        "best_epoch": best + 1,
        "best_val_loss": round(float(val_loss[best]), 6),
        "best_val_accuracy": round(float(history.history["val_accuracy"][best]), 6),
        "train_seconds": round(seconds, 1),
        "train_reviews": int(len(data["train"]["labels"])),
        "val_reviews": int(len(data["val"]["labels"])),
        "parameters": int(model.count_params()),
    }
    return model, summary


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=P.PARAMS_FILE)
    parser.add_argument("--data", required=True, help="preprocess output directory")
    parser.add_argument("--model", required=True, help="output end-to-end model (.keras)")
    parser.add_argument("--live", required=True, help="DVCLive directory for training curves")
    args = parser.parse_args(argv)

    cfg: P.TrainParams = P.load("train", args.params)
    seed = P.load_seed(args.params)
    data = {name: preprocess.load_split(args.data, name) for name in ("train", "val")}
    vocabulary = preprocess.load_vocabulary(args.data)
    prep = read_json(Path(args.data) / preprocess.CONFIG_FILE)
    embeddings = None
    if cfg.pretrained_embeddings:
        embeddings = preprocess.load_embeddings(args.data)
        if embeddings is None:
            raise PipelineError(
                "train.pretrained_embeddings is true but preprocess wrote no word vectors: "
                "set preprocess.pretrain_dim > 0"
            )
    print(f"train: {cfg.model} on {len(data['train']['labels'])} reviews, "
          f"validating on {len(data['val']['labels'])}", file=sys.stderr)
    with Live(dir=args.live, dvcyaml=False, save_dvc_exp=False) as live:
        classifier, summary = train(cfg, seed, data, len(vocabulary) + 2, embeddings, live,
                                    verbose=1 if sys.stderr.isatty() else 2)
        live.summary.update({"best_val_accuracy": summary["best_val_accuracy"],
                             "best_val_loss": summary["best_val_loss"]})
    model = build_end_to_end(make_vectorizer(vocabulary), classifier, prep["max_len"])
    model_path = Path(args.model)
    card = {"train": P.to_dict(cfg), "seed": seed, "preprocess": prep, "fit": summary}
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    write_json(model_card_path(model_path), card)
    print(f"train: {json.dumps(summary)} -> {model_path}", file=sys.stderr)


def model_card_path(model_path: str | Path) -> Path:
    """The params file saved next to a model: models/model.keras -> models/model.params.json."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".params.json")


if __name__ == "__main__":
    main()
