"""Training the tutorial way against the train stage's way: speed, padding, FLOP/s and
accuracy of each side, the sides taking turns in fresh processes."""

from __future__ import annotations

import json
import statistics
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from imdb_sentiment.core import params as P
from imdb_sentiment.data.processed import Split
from imdb_sentiment.modeling.fitting import (
    compile_classifier,
    fit_settings_of,
    make_dataset,
    set_determinism,
)
from imdb_sentiment.modeling.zoo import build_classifier, network_of

from .harness import child
from .workload import VOCAB_SIZE, encode, rows, stage_params, thread_label

EMBEDDING, UNITS = 64, 64
TUTORIAL_EPOCHS = 5  # the fixed count of four of the five tutorials (experiments/tutorials.sh)
PATIENCE = 2  # the pipeline side stops early on its own 20% holdout of the training part


def lstm_train_flops(tokens: int) -> float:
    """Approximate FLOPs of one training pass of Embedding(64)+LSTM(64) over `tokens` steps.

    Forward: 4 gates x (input + recurrent) x units multiply-adds per token;
    backward costs about twice the forward.
    """
    return 3 * 2 * 4 * (EMBEDDING + UNITS) * UNITS * tokens


class EpochTimes(keras.callbacks.Callback):
    """Wall seconds of each epoch, validation included."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def fit_report(
    reviews: int, epoch_seconds: list[float], history: dict, steps: int, test_accuracy: float
) -> dict:
    """One side's training run: speed over every epoch it ran, validation, test accuracy."""
    val_loss = history["val_loss"]
    return {
        "reviews": reviews,
        "epochs_run": len(epoch_seconds),
        "reviews_per_s": reviews * len(epoch_seconds) / sum(epoch_seconds),
        "epoch_reviews_per_s": [round(reviews / t, 1) for t in epoch_seconds],
        "val_accuracy": [round(v, 4) for v in history["val_accuracy"]],
        "best_epoch": int(np.argmin(val_loss)) + 1,
        "steps": steps,
        "test_accuracy": round(float(test_accuracy), 4),
    }


def tutorial_way(
    train: Split, test: Split, max_len: int, epochs: int, batch_size: int | None = None
) -> dict:
    """Pre-padded NumPy arrays into model.fit(validation_split=0.2) for a fixed number of
    epochs, the tutorials' default way (batch_size None is fit's default, 32); the model
    of the last epoch is scored."""
    x = keras.utils.pad_sequences(rows(train), maxlen=max_len)
    y = train.labels.astype("float32")
    set_determinism(0)
    model = keras.Sequential(
        [
            keras.Input((max_len,)),
            keras.layers.Embedding(VOCAB_SIZE, EMBEDDING),
            keras.layers.LSTM(UNITS),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    times = EpochTimes()
    history = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_split=0.2,
        verbose=0,
        callbacks=[times],
    )
    x_test = keras.utils.pad_sequences(rows(test), maxlen=max_len)
    _, accuracy = model.evaluate(x_test, test.labels.astype("float32"), batch_size=256, verbose=0)
    return fit_report(len(y), times.seconds, history.history, x.size, accuracy)


def split_80_20(data: Split) -> tuple[Split, Split]:
    """The same 80/20 cut as validation_split (the last 20% validate)."""
    cut = int(len(data) * 0.8)
    at = data.offsets[cut]
    head = Split(data.ids[:at], data.offsets[: cut + 1], data.labels[:cut], data.review_ids[:cut])
    tail = Split(data.ids[at:], data.offsets[cut:] - at, data.labels[cut:], data.review_ids[cut:])
    return head, tail


def fit_pipeline_way(
    cfg: P.TrainParams, train: Split, epochs: int
) -> tuple[keras.Model, list[float], dict, int]:
    """The train stage's input pipeline (length buckets), compilation (`cfg`'s optimizer and
    XLA choice) and batch size, with early stopping on the holdout (`PATIENCE`, best weights
    restored) within `epochs`.
    Returns the model, epoch seconds, history and time steps."""
    fit_part, val_part = split_80_20(train)
    set_determinism(0)
    model = build_classifier(network_of(cfg), VOCAB_SIZE)
    compile_classifier(model, fit_settings_of(cfg))
    train_ds = make_dataset(
        fit_part, cfg.batch_size, shuffle=True, seed=0, bucket_by_length=cfg.bucket_by_length
    )
    val_ds = make_dataset(
        val_part, cfg.batch_size, shuffle=False, seed=0, bucket_by_length=cfg.bucket_by_length
    )
    times = EpochTimes()
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=PATIENCE, restore_best_weights=True
    )
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=0, callbacks=[times, stop]
    )
    steps = sum(int(tf.size(x)) for ds in (train_ds, val_ds) for x, _ in ds)
    return model, times.seconds, history.history, steps


def pipeline_way(train: Split, test: Split, epochs: int) -> dict:
    """The tutorial's architecture trained the train stage's way (its batch size, thread
    pools, early stopping on a holdout, and its strided convolution before the recurrence when
    `train.conv_filters` has one), at most `epochs` epochs; the restored best model is scored.
    Word-pair vectors, which add work rather than save it, are left out."""
    stage = stage_params()
    cfg = P.from_dict(
        "train",
        {
            **P.to_dict(stage),
            "model": "lstm",
            "bidirectional": False,
            "word_pair_buckets": 0,
            "units": [UNITS],
            "embedding_dim": EMBEDDING,
            "pooling": "last",
            "dropout": 0.0,
            "embedding_dropout": 0.0,
            "dense_units": [],
            "pretrained_embeddings": False,
        },
    )
    model, seconds, history, steps = fit_pipeline_way(cfg, train, epochs)
    test_ds = make_dataset(test, 256, shuffle=False, seed=0, bucket_by_length=True)
    _, accuracy = model.evaluate(test_ds, verbose=0)
    return fit_report(len(train), seconds, history, steps, accuracy)


# Training sides: (way, batch size, thread pools). "stage" means the train stage's setting.
SIDES = {
    "tutorial": ("tutorial", None, "default"),
    "tutorial_our_batch": ("tutorial", "stage", "default"),
    "pipeline": ("pipeline", "stage", "stage"),
}


def train_side(side: str, max_len: int, epochs: int, limit: int | None) -> dict:
    """One side of `training` in a child process whose thread pools are set: its report and
    the real (unpadded) tokens it trained on."""
    way, batch, _ = SIDES[side]
    train, test = encode("train", max_len, limit), encode("test", max_len, limit)
    if way == "pipeline":
        report = pipeline_way(train, test, epochs)
    else:
        batch_size = stage_params().batch_size if batch == "stage" else None
        report = tutorial_way(train, test, max_len, epochs, batch_size)
    return {**report, "real_tokens": len(train.ids)}


# an epoch this many times its run's median epoch time is a stall of the machine, not the code
STALL_FACTOR = 1.5


def stalled_epochs(epoch_rates: list[float]) -> list[int]:
    """The epochs (from 2) of one run that took more than STALL_FACTOR x its median epoch time;
    `epoch_rates` are each epoch's reviews/s, so time is their inverse. The first epoch also
    traces the graph, so its extra time is the code's, not a stall."""
    seconds = [1 / rate for rate in epoch_rates]
    median = statistics.median(seconds)
    return [epoch for epoch, s in enumerate(seconds, 1) if epoch > 1 and s > STALL_FACTOR * median]


def training(
    max_lens: list[int], epochs: int, limit: int | None, peak: float, rounds: int
) -> list[dict]:
    """Tutorial way against pipeline way, per max_len: speed, padding, FLOP/s, accuracy.

    Every side runs in a fresh process, and the sides take turns `rounds` times, so a
    slow spell of the machine hits every side; reviews/s are each side's median.
    Training is deterministic, so accuracy is the same in every round.
    """
    results = []
    for max_len in max_lens:
        runs: dict[str, list[dict]] = {side: [] for side in SIDES}
        for _ in range(rounds):
            for side in SIDES:
                runs[side].append(
                    child(
                        {
                            "section": "training",
                            "side": side,
                            "max_len": max_len,
                            "epochs": epochs,
                            "limit": limit,
                            "threads": SIDES[side][2],
                        }
                    )
                )
                print(
                    json.dumps({"max_len": max_len, "side": side, **runs[side][-1]}),
                    file=sys.stderr,
                    flush=True,
                )
        stage = stage_params()
        real_tokens = runs["pipeline"][0]["real_tokens"]
        row = {
            "max_len": max_len,
            "max_epochs": epochs,
            "rounds": rounds,
            "reviews": runs["pipeline"][0]["reviews"],
            "stage_batch_size": stage.batch_size,
            "stage_threads": thread_label(stage, "stage"),
        }
        flops_per_review = lstm_train_flops(real_tokens) / row["reviews"]
        rate = {}
        for side, side_runs in runs.items():
            first = side_runs[0]
            rate[side] = statistics.median(r["reviews_per_s"] for r in side_runs)
            row[side] = {
                "reviews_per_s": round(rate[side], 1),
                "reviews_per_s_runs": [round(r["reviews_per_s"], 1) for r in side_runs],
                "epoch_reviews_per_s_runs": [r["epoch_reviews_per_s"] for r in side_runs],
                "spread": [
                    round(min(r["reviews_per_s"] for r in side_runs), 1),
                    round(max(r["reviews_per_s"] for r in side_runs), 1),
                ],
                # per round, the epochs that stalled (empty lists: none did)
                "stalled_epochs_runs": [
                    stalled_epochs(r["epoch_reviews_per_s"]) for r in side_runs
                ],
                "padding_share": round(1 - real_tokens / first["steps"], 3),
                "useful_flops_pct_of_peak": round(100 * flops_per_review * rate[side] / peak, 2),
                "epochs_run": first["epochs_run"],
                "best_epoch": first["best_epoch"],
                "val_accuracy": first["val_accuracy"],
                "test_accuracy_runs": [r["test_accuracy"] for r in side_runs],
                "test_accuracy": first["test_accuracy"],
            }
        row["speedup"] = round(rate["pipeline"] / rate["tutorial"], 2)
        row["speedup_runs"] = [
            round(ours["reviews_per_s"] / theirs["reviews_per_s"], 2)
            for ours, theirs in zip(runs["pipeline"], runs["tutorial"])
        ]
        row["speedup_over_tutorial_our_batch"] = round(
            rate["pipeline"] / rate["tutorial_our_batch"], 2
        )
        row["speedup_our_batch_runs"] = [
            round(ours["reviews_per_s"] / theirs["reviews_per_s"], 2)
            for ours, theirs in zip(runs["pipeline"], runs["tutorial_our_batch"])
        ]
        row["stalled_sides"] = [side for side in SIDES if any(row[side]["stalled_epochs_runs"])]
        results.append(row)
    return results
