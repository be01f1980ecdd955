"""Benchmarks: training speed and accuracy against the tutorial way, settings, stages, inference,
and what the reproducibility pins cost.

Every measurement runs in a fresh process (TensorFlow fixes its thread pools at
start-up, and a process that trained before carries threads and memory into
the next run), and the sides of a comparison take turns on the same data, so
the ratios hold on a noisy machine. Needs the pipeline's outputs (`dvc repro`):
data/raw/ (the archive), data/interim/reviews.parquet, data/processed/,
models/model.keras.

    python benchmarks/bench.py                      # everything, tables on stdout
    python benchmarks/bench.py --json out.json      # also write the numbers as JSON
    python benchmarks/bench.py --only training --max-len 500 --limit 4000 --epochs 2 --rounds 1
    python benchmarks/bench.py --quick              # the headline numbers in minutes (`make bench-quick`)

With --json, the sections run replace theirs in the file and the others are kept;
--quick writes its own `quick` entry and leaves the full run's sections alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
import yaml  # noqa: E402

from imdb_sentiment.core import params as P  # noqa: E402
from imdb_sentiment.core import startup  # noqa: E402
from imdb_sentiment.core.startup import set_thread_pools  # noqa: E402
from imdb_sentiment.data import processed  # noqa: E402
from imdb_sentiment.data import reviews as review_table
from imdb_sentiment.data.processed import Split  # noqa: E402
from imdb_sentiment.inference import scoring  # noqa: E402
from imdb_sentiment.inference.scoring import load_model, predict_texts  # noqa: E402
from imdb_sentiment.modeling import text
from imdb_sentiment.modeling.fitting import compile_classifier, make_dataset, set_determinism  # noqa: E402
from imdb_sentiment.modeling.zoo import build_classifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VOCAB_SIZE = 10_000
EMBEDDING, UNITS = 64, 64
TUTORIAL_EPOCHS = 5  # the fixed count of four of the five tutorials (experiments/tutorials.sh)
PATIENCE = 2  # the pipeline side stops early on its own 20% holdout of the training part
SECTIONS = ("training", "settings", "stages", "inference", "pinning", "ingest", "cold_start")
# --quick: the headline numbers, each with its spread over rounds
QUICK = {"rounds": 3, "limit": 8000, "epochs": 3, "max_len": 500, "identity_reviews": 2000}
ONE_REVIEW = "A moving, beautifully acted film; I would watch it again."


def matmul_peak_flops(n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matrix-multiply FLOP/s of this machine (the roofline we compare to)."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def lstm_train_flops(tokens: int) -> float:
    """Approximate FLOPs of one training pass of Embedding(64)+LSTM(64) over `tokens` steps.

    Forward: 4 gates x (input + recurrent) x units multiply-adds per token;
    backward costs about twice the forward.
    """
    return 3 * 2 * 4 * (EMBEDDING + UNITS) * UNITS * tokens


def stage_params() -> P.TrainParams:
    """The train stage's settings, as params.yaml has them."""
    return P.load("train", ROOT / P.PARAMS_FILE)


def encode(split: str, max_len: int, limit: int | None = None) -> Split:
    """Reviews of one part ("train": the training part, "test": the official test set),
    encoded with the top-10,000 training vocabulary, first `max_len` tokens, shuffled."""
    source = "test" if split == "test" else "train"
    reviews = review_table.read(ROOT / "data/interim/reviews.parquet", split=source)
    if split == "train":
        vocab_size = len(processed.load_vocabulary(ROOT / "data/processed")) + 2
        part = processed.load_split(ROOT / "data/processed", "train", vocab_size)
        keys = set(zip(part.labels.tolist(), part.review_ids.tolist()))
        reviews = reviews[[k in keys for k in zip(reviews["label"], reviews["id"])]]
    reviews = reviews.sample(frac=1.0, random_state=0)[:limit]
    vocabulary = processed.load_vocabulary(ROOT / "data/processed")[: VOCAB_SIZE - 2]
    ids, offsets, _ = text.encode(
        text.make_vectorizer(vocabulary, ragged=True), reviews["text"].tolist(), max_len
    )
    return Split(ids, offsets, reviews["label"].to_numpy(np.int8), reviews["id"].to_numpy(np.int32))


def rows(data: Split) -> list[np.ndarray]:
    return np.split(data.ids, data.offsets[1:-1])


class EpochTimes(keras.callbacks.Callback):
    """Wall seconds of each epoch, validation included."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
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
    model = build_classifier(cfg, VOCAB_SIZE)
    compile_classifier(model, cfg)
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


def child(spec: dict, env: dict[str, str] | None = None) -> dict:
    """Run one measurement in a fresh process: TensorFlow fixes its thread pools at start,
    and a process that trained before carries its threads and memory into the next run."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench child {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile_training(
    limit: int, max_len: int, batch_size: int, lengths: list[int], repeats: int = 8
) -> dict:
    """Where a training epoch of the default network's architecture goes (random embeddings).

    One train step on a batch of `batch_size` reviews of T real tokens is timed for each
    T in `lengths` (after a warm-up); T = 1 gives the per-step cost that does not grow
    with length (Keras' step dispatch, the optimizer update, the dense head), and the
    growth beyond it, the cost per token of the sequence layers: the strided convolution,
    if any, and the recurrent loop's time steps, one per `train.conv_stride` tokens (both
    directions, forward and backward pass), whose matrix products are compared with the
    machine's matmul peak. Then one real epoch over `limit` reviews at `max_len` is timed,
    and the input pipeline alone (iterating the batches, no model), so the epoch splits
    into the sequence layers (each batch's step time at its length, interpolated, less the
    per-step cost), the per-step cost, and the rest.
    """
    cfg = P.from_dict(
        "train",
        {**P.to_dict(stage_params()), "pretrained_embeddings": False, "batch_size": batch_size},
    )
    set_determinism(0)
    model = build_classifier(cfg, VOCAB_SIZE)
    compile_classifier(model, cfg)
    rng = np.random.default_rng(0)
    step_ms = []
    for length in lengths:
        x = rng.integers(2, VOCAB_SIZE, (batch_size, length)).astype(np.int32)
        y = rng.integers(0, 2, batch_size).astype(np.float32)
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)  # traced for this length, warm
        started = time.perf_counter()
        for _ in range(repeats):
            model.train_on_batch(x, y)
        step_ms.append((time.perf_counter() - started) / repeats * 1000)
    fixed_ms = step_ms[0]
    longest = lengths[-1]
    per_token_ms = (step_ms[-1] - fixed_ms) / (longest - lengths[0])
    directions = 2 if cfg.bidirectional else 1
    stride = cfg.conv_stride if cfg.conv_filters else 1
    inputs, units = cfg.conv_filters or cfg.embedding_dim, cfg.units[0]
    # 2 FLOPs per multiply-add, and a backward pass costs twice the forward: x 3 x 2
    # GRU: 3 gates, input and recurrent products, one time step per `stride` tokens
    flops_per_token = 3 * 3 * 2 * (inputs + units) * units * batch_size * directions / stride
    flops_per_token += (
        3 * 2 * cfg.conv_width * cfg.embedding_dim * cfg.conv_filters * batch_size / stride
    )
    train = encode("train", max_len, limit)
    ds = make_dataset(train, batch_size, shuffle=True, seed=0, bucket_by_length=True)
    started = time.perf_counter()
    batches = [(int(tf.shape(x)[0]), int(tf.shape(x)[1])) for x, _ in ds]
    input_seconds = time.perf_counter() - started
    model.fit(ds.take(2), epochs=1, verbose=0)  # trace the shapes' first calls
    started = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0)
    epoch_seconds = time.perf_counter() - started
    loop = (
        sum(
            (float(np.interp(length, lengths, step_ms)) - fixed_ms) * rows / batch_size
            for rows, length in batches
        )
        / 1000
    )
    fixed = fixed_ms * len(batches) / 1000
    return {
        "batch_size": batch_size,
        "lengths": lengths,
        "step_ms": [round(t, 2) for t in step_ms],
        "per_step_ms": round(fixed_ms, 2),
        "per_token_ms": round(per_token_ms, 4),
        "tokens_per_time_step": stride,
        "token_gflops": round(flops_per_token / (per_token_ms / 1000) / 1e9, 2),
        "reviews": len(train),
        "max_len": max_len,
        "batches": len(batches),
        "epoch_seconds": round(epoch_seconds, 2),
        "sequence_seconds": round(loop, 2),
        "per_step_seconds": round(fixed, 2),
        "input_pipeline_seconds": round(input_seconds, 2),
        "rest_seconds": round(epoch_seconds - loop - fixed, 2),
    }


def run_child(spec: dict) -> dict:
    """The body of a child process (see `child`)."""
    if spec["section"] == "inference":
        return score_test_set(Path(spec["model"]), spec["tuned"])
    if spec["section"] == "profile":
        return profile_training(
            spec["limit"], spec["max_len"], stage_params().batch_size, [1, 50, 100, 200, 400]
        )
    if spec["section"] == "svd":
        return svd_seconds(spec["one_thread"])
    stage = stage_params()
    # thread pools before TensorFlow starts: the train stage's, [inter, intra], or TensorFlow's
    if spec["threads"] == "stage":
        set_thread_pools(stage.inter_op_threads, stage.intra_op_threads)
    elif spec["threads"] != "default":
        set_thread_pools(*spec["threads"])
    if spec["section"] == "training":
        way, batch, _ = SIDES[spec["side"]]
        train, test = (
            encode("train", spec["max_len"], spec["limit"]),
            encode("test", spec["max_len"], spec["limit"]),
        )
        if way == "pipeline":
            report = pipeline_way(train, test, spec["epochs"])
        else:
            batch_size = stage.batch_size if batch == "stage" else None
            report = tutorial_way(train, test, spec["max_len"], spec["epochs"], batch_size)
        return {**report, "real_tokens": len(train.ids)}
    train = encode("train", P.load("preprocess", ROOT / P.PARAMS_FILE).max_len, spec["limit"])
    cfg = P.from_dict(
        "train", {**P.to_dict(stage), **spec["trial"], "pretrained_embeddings": False}
    )
    _, seconds, _, _ = fit_pipeline_way(cfg, train, epochs=spec["epochs"])
    return {"reviews_per_s": len(train) * len(seconds) / sum(seconds)}


def thread_label(stage: P.TrainParams, threads: str | list[int]) -> str:
    """Thread pools as (inter-op, intra-op), 0 meaning TensorFlow's choice."""
    if threads == "stage":
        threads = [stage.inter_op_threads, stage.intra_op_threads]
    if threads == "default" or not any(threads):
        return "TensorFlow's default"
    return f"({threads[0]}, {threads[1]})"


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
        results.append(row)
    return results


# A thread-pool setting tried against TensorFlow's default: one thread per op, two ops at once.
TUNED_THREADS = [2, 1]


def settings(limit: int, batch_sizes: list[int], epochs: int, rounds: int) -> list[dict]:
    """The default model's training speed under each batch size, thread pools and XLA,
    each in a fresh process, taking turns `rounds` times (reviews/s: median)."""
    stage = stage_params()
    trials = [({"batch_size": b}, "stage") for b in batch_sizes]
    for threads in ("default", TUNED_THREADS):  # each unless it is the stage's own setting
        if thread_label(stage, threads) != thread_label(stage, "stage"):
            trials.append(({"batch_size": stage.batch_size}, threads))
    trials.append(({"batch_size": stage.batch_size, "jit_compile": True}, "stage"))
    rates: list[list[float]] = [[] for _ in trials]
    for _ in range(rounds):
        for index, (trial, threads) in enumerate(trials):
            spec = {
                "section": "settings",
                "trial": trial,
                "threads": threads,
                "limit": limit,
                "epochs": epochs,
            }
            rates[index].append(child(spec)["reviews_per_s"])
            print(
                json.dumps({**spec, "reviews_per_s": rates[index][-1]}), file=sys.stderr, flush=True
            )
    return [
        {
            "batch_size": trial["batch_size"],
            "jit_compile": trial.get("jit_compile", False),
            "threads": thread_label(stage, threads),
            "reviews": limit,
            "epochs": epochs,
            "reviews_per_s": round(statistics.median(r), 1),
            "reviews_per_s_runs": [round(x, 1) for x in r],
        }
        for (trial, threads), r in zip(trials, rates)
    ]


def svd_seconds(one_thread: bool) -> dict[str, float]:
    """Seconds of the word vectors' truncated SVD (the full-data PPMI matrix of the training
    part), on one BLAS thread as preprocess runs it, or on the machine's default."""
    from sklearn.utils.extmath import randomized_svd
    from threadpoolctl import threadpool_limits

    from imdb_sentiment.data.embeddings import cooccurrence, ppmi

    vocab_size = len(processed.load_vocabulary(ROOT / "data/processed")) + 2
    part = processed.load_split(ROOT / "data/processed", "train", vocab_size)
    cfg = P.load("preprocess", ROOT / P.PARAMS_FILE)
    matrix = ppmi(cooccurrence(part.ids, part.offsets, vocab_size, cfg.pretrain_window))
    limit = threadpool_limits(limits=1, user_api="blas") if one_thread else None
    start = time.perf_counter()
    randomized_svd(matrix, cfg.pretrain_dim, n_iter=5, random_state=0)
    seconds = time.perf_counter() - start
    if limit is not None:
        limit.restore_original_limits()
    return {"seconds": round(seconds, 3)}


def pinning(limit: int, epochs: int, rounds: int) -> dict:
    """What reproducibility costs: the default model's training speed on the stage launcher's
    pinned kernels against the CPU's own choice, and the SVD on one BLAS thread against the
    default thread count; each in fresh processes, the sides taking turns `rounds` times."""
    native = {k: v for k, v in os.environ.items() if k not in startup.PINNED}
    sides = {"pinned": {**native, **startup.PINNED}, "native": native}
    train_rates: dict[str, list[float]] = {side: [] for side in sides}
    svd: dict[str, list[float]] = {side: [] for side in sides}
    spec = {
        "section": "settings",
        "trial": {},
        "threads": "stage",
        "limit": limit,
        "epochs": epochs,
    }
    for _ in range(rounds):
        for side, env in sides.items():
            train_rates[side].append(child(spec, env)["reviews_per_s"])
            svd[side].append(
                child({"section": "svd", "one_thread": side == "pinned"}, env)["seconds"]
            )
            print(
                json.dumps(
                    {
                        "side": side,
                        "reviews_per_s": train_rates[side][-1],
                        "svd_seconds": svd[side][-1],
                    }
                ),
                file=sys.stderr,
                flush=True,
            )
    result = {"reviews": limit, "epochs": epochs, "rounds": rounds, "pinned_env": startup.PINNED}
    for side in sides:
        result[side] = {
            "train_reviews_per_s": round(statistics.median(train_rates[side]), 1),
            "train_reviews_per_s_runs": [round(x, 1) for x in train_rates[side]],
            "svd_seconds": round(statistics.median(svd[side]), 3),
            "svd_seconds_runs": svd[side],
        }
    result["train_speed_ratio"] = round(
        result["pinned"]["train_reviews_per_s"] / result["native"]["train_reviews_per_s"], 3
    )
    result["svd_time_ratio"] = round(
        result["pinned"]["svd_seconds"] / result["native"]["svd_seconds"], 3
    )
    return result


def stage_commands(root: Path, params: dict) -> dict[str, str]:
    """Each stage's command from dvc.yaml, ${...} filled from its vars and `params`."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    values = {**params}
    for block in spec.get("vars", []):
        values.update(block)

    def lookup(match: re.Match) -> str:
        node = values
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)

    return {
        name: re.sub(r"\$\{([^}]+)\}", lookup, stage["cmd"])
        for name, stage in spec["stages"].items()
    }


def peak_resident_mib(pid: int) -> float | None:
    """The process's resident-memory high-water mark (VmHWM), or None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def run_measured(
    command: str | list[str], cwd: Path, log: Path, extra_env: dict[str, str] | None = None
) -> dict[str, float]:
    """Wall seconds and peak resident memory (MiB) of one command, run to completion.

    The peak is polled from /proc: getrusage's ru_maxrss of a child also counts
    this (large) process's pages, which the child held until it exec'd.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    env = {**os.environ, **(extra_env or {})}
    while "=" in argv[0]:  # leading NAME=value assignments, e.g. PYTHONPATH=src
        name, value = argv.pop(0).split("=", 1)
        env[name] = str(ROOT / value) if (ROOT / value).exists() else value
    if argv[0] == "python":
        argv[0] = sys.executable
    peak = 0.0
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak = max(peak, peak_resident_mib(proc.pid) or 0.0)
            time.sleep(0.02)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"`{command}` failed with status {proc.returncode}; see {log}")
    return {"seconds": round(seconds, 1), "peak_mib": round(peak, 1)}


def stages(train_epochs: int = 1, sample_per_class: int | None = None) -> list[dict]:
    """Every stage of dvc.yaml in a scratch directory; train for `train_epochs`.

    Full data unless `sample_per_class` (ingest.sample_per_class) asks for a quick look.
    """
    params = yaml.safe_load((ROOT / P.PARAMS_FILE).read_text())
    params["train"]["epochs"] = train_epochs
    params["ingest"]["sample_per_class"] = sample_per_class
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
        work = Path(scratch)
        scratch_workspace(work, params)
        for name, command in stage_commands(ROOT, params).items():
            row = {"stage": name, **run_measured(command, work, work / f"{name}.log")}
            if name == "train":
                row["epochs"] = train_epochs
            print(json.dumps(row), file=sys.stderr, flush=True)
            results.append(row)
    return results


def scratch_workspace(work: Path, params: dict) -> None:
    """params.yaml and the archive (a link to this checkout's) in an empty directory."""
    (work / P.PARAMS_FILE).write_text(yaml.safe_dump(params))
    archive = work / params["ingest"]["archive"]
    archive.parent.mkdir(parents=True)
    archive.symlink_to(ROOT / params["ingest"]["archive"])


def ingest(rounds: int) -> dict:
    """The ingest stage on the full archive, as dvc.yaml runs it, in `rounds` fresh processes."""
    params = yaml.safe_load((ROOT / P.PARAMS_FILE).read_text())
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:
        work = Path(scratch)
        scratch_workspace(work, params)
        command = stage_commands(ROOT, params)["ingest"]
        for _ in range(rounds):
            runs.append(run_measured(command, work, work / "ingest.log"))
            print(json.dumps({"ingest": runs[-1]}), file=sys.stderr, flush=True)
    return spread(runs, ("seconds", "peak_mib"))


def spread(runs: list[dict], keys: tuple[str, ...]) -> dict:
    """Median and each round's value of each key."""
    return {
        "rounds": len(runs),
        **{key: round(statistics.median(r[key] for r in runs), 2) for key in keys},
        **{f"{key}_runs": [r[key] for r in runs] for key in keys},
    }


def cold_start(model_path: Path, rounds: int, identity_reviews: int) -> dict:
    """`imdb-sentiment predict "<one review>"` from a fresh process in an empty directory,
    `rounds` times (wall seconds, peak MiB); then the same command line on the first
    `identity_reviews` test reviews, against the evaluate stage's predictions.csv."""
    env = {"IMDB_SENTIMENT_MODEL": str(model_path)}
    command = [sys.executable, "-m", "imdb_sentiment.inference.cli", "predict"]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        work = Path(scratch)
        for _ in range(rounds):
            runs.append(run_measured(command + [ONE_REVIEW], work, work / "predict.log", env))
            print(json.dumps({"cold_start": runs[-1]}), file=sys.stderr, flush=True)
        test = pd.read_parquet(
            ROOT / "data/interim/reviews.parquet", filters=[("split", "==", "test")]
        ).head(identity_reviews)
        source = work / "test.jsonl"
        source.write_text("".join(json.dumps({"text": t}) + "\n" for t in test["text"]))
        scored = run_measured(
            command + ["--input", str(source), "--output", str(work / "scored.csv")],
            work,
            work / "many.log",
            env,
        )
        cli = pd.read_csv(work / "scored.csv")["probability"].to_numpy()
    stage = pd.read_csv(ROOT / "metrics/eval/predictions.csv")["probability"].to_numpy()[: len(cli)]
    return {
        **spread(runs, ("seconds", "peak_mib")),
        "review_chars": len(ONE_REVIEW),
        "identity_reviews": len(cli),
        "identity_seconds": scored["seconds"],
        "max_abs_diff_vs_evaluate": float(np.max(np.abs(cli - stage))),
    }


def score_test_set(model_path: Path, tuned: bool, n_single: int = 200) -> dict[str, float]:
    """One process's scoring: reviews/s over the 25,000 test reviews, single-review latency.

    tuned: the CLI's way (scoring.tune_threads, SCORING_WORKERS batches at once);
    otherwise TensorFlow's default thread pools and one batch at a time.
    """
    if tuned:
        scoring.tune_threads()
    workers = scoring.SCORING_WORKERS if tuned else 1
    model = load_model(model_path)
    test = pd.read_parquet(ROOT / "data/interim/reviews.parquet", filters=[("split", "==", "test")])
    texts = test["text"].tolist()
    predict_texts(model, texts[:256])  # trace once
    start = time.perf_counter()
    predict_texts(model, texts, batch_size=256, workers=workers)
    batch_rate = len(texts) / (time.perf_counter() - start)
    latencies = []
    for review in texts[:n_single]:
        start = time.perf_counter()
        predict_texts(model, [review])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return {
        "reviews": len(texts),
        "batch_reviews_per_s": round(batch_rate, 1),
        "single_reviews": n_single,
        "single_p50_ms": round(statistics.median(latencies), 2),
        "single_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


def inference(model_path: Path, rounds: int = 2) -> dict:
    """The CLI's scoring against one batch at a time on default thread pools, alternated,
    each run in a fresh process."""
    runs: dict[str, list[dict]] = {"tuned": [], "default": []}
    for _ in range(rounds):
        for mode in runs:
            runs[mode].append(
                child({"section": "inference", "model": str(model_path), "tuned": mode == "tuned"})
            )
    best = max(runs["tuned"], key=lambda r: r["batch_reviews_per_s"])
    return {
        **best,
        "rounds": rounds,
        "batch_reviews_per_s_runs": [r["batch_reviews_per_s"] for r in runs["tuned"]],
        "default_threads_1_worker_reviews_per_s_runs": [
            r["batch_reviews_per_s"] for r in runs["default"]
        ],
        "workers": scoring.SCORING_WORKERS,
    }


def print_tables(results: dict) -> None:
    print(f"\nmachine: {results['cpus']} CPUs, {results['gpus']} GPUs")
    for section, when in results.get("measured", {}).items():
        print(
            f"{section}: {when['date']} at {when['commit'] or 'an unrecorded commit'}, matmul peak "
            f"{when['matmul_peak_gflops']} GFLOP/s"
        )
    if results.get("training"):
        print(
            "\n| max_len | side | reviews/s (median; each round) | epochs run (best) "
            "| validation accuracy per epoch | test accuracy | padding | useful FLOP/s % of peak |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in results["training"]:
            for side in SIDES:
                x = r[side]
                print(
                    f"| {r['max_len']} | {side} | {x['reviews_per_s']} ({', '.join(map(str, x['reviews_per_s_runs']))}) "
                    f"| {x['epochs_run']} ({x['best_epoch']}) | {', '.join(map(str, x['val_accuracy']))} "
                    f"| {x['test_accuracy']} | {x['padding_share']:.1%} | {x['useful_flops_pct_of_peak']} |"
                )
        print(
            "\n| max_len | speedup over the tutorial (median; each round) | over the tutorial at our batch size |"
        )
        print("|---|---|---|")
        for r in results["training"]:
            print(
                f"| {r['max_len']} | {r['speedup']}x ({', '.join(f'{x}x' for x in r['speedup_runs'])}) "
                f"| {r['speedup_over_tutorial_our_batch']}x |"
            )
    if results.get("settings"):
        print(
            "\n| batch_size | jit_compile | thread pools (inter, intra) | reviews/s (default model; each round) |"
        )
        print("|---|---|---|---|")
        for r in results["settings"]:
            print(
                f"| {r['batch_size']} | {r['jit_compile']} | {r['threads']} "
                f"| {r['reviews_per_s']} ({', '.join(map(str, r['reviews_per_s_runs']))}) |"
            )
    if results.get("stages"):
        print("\n| stage | wall s | peak MiB |")
        print("|---|---|---|")
        for r in results["stages"]:
            label = f"{r['stage']} ({r['epochs']} epoch)" if "epochs" in r else r["stage"]
            print(f"| {label} | {r['seconds']} | {r['peak_mib']} |")
    if results.get("pinning"):
        k = results["pinning"]
        print(
            f"\npinning ({k['reviews']} reviews, {k['epochs']} epochs, {k['rounds']} rounds): "
            f"training {k['pinned']['train_reviews_per_s']} reviews/s pinned vs "
            f"{k['native']['train_reviews_per_s']} native ({k['train_speed_ratio']}x); SVD "
            f"{k['pinned']['svd_seconds']} s on one BLAS thread vs {k['native']['svd_seconds']} s "
            f"({k['svd_time_ratio']}x)"
        )
    if results.get("ingest"):
        g = results["ingest"]
        print(
            f"\ningest (full archive, {g['rounds']} fresh processes): {g['seconds']} s, "
            f"{g['peak_mib']} MiB peak (rounds: {g['seconds_runs']} s; {g['peak_mib_runs']} MiB)"
        )
    if results.get("cold_start"):
        c = results["cold_start"]
        print(
            f"\none review from a cold CLI ({c['rounds']} rounds): {c['seconds']} s, "
            f"{c['peak_mib']} MiB peak (rounds: {c['seconds_runs']} s); max |CLI - evaluate| "
            f"over {c['identity_reviews']} test reviews {c['max_abs_diff_vs_evaluate']:.1e}"
        )
    if results.get("inference"):
        i = results["inference"]
        print(
            f"\ninference (default model, {i['reviews']} test reviews): {i['batch_reviews_per_s']} "
            f"reviews/s batched (best of {i['rounds']} processes scoring the CLI's way: "
            f"{i['batch_reviews_per_s_runs']}; one batch at a time on default thread pools: "
            f"{i['default_threads_1_worker_reviews_per_s_runs']}); "
            f"single review p50 {i['single_p50_ms']} ms, "
            f"p99 {i['single_p99_ms']} ms ({i['single_reviews']} calls)"
        )


def head_commit() -> str | None:
    """The checkout's short commit, or None outside git."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


def quick(model_path: Path, peak: float, today: str) -> dict:
    """The headline numbers (each side by side or over rounds in this one run)."""
    started = time.perf_counter()
    result = {
        "date": today,
        "commit": head_commit(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "settings": QUICK,
        "ingest": ingest(QUICK["rounds"]),
        "cold_start": cold_start(model_path, QUICK["rounds"], QUICK["identity_reviews"]),
        "inference": inference(model_path, rounds=2),
        "training": training([QUICK["max_len"]], QUICK["epochs"], QUICK["limit"], peak, rounds=2)[
            0
        ],
        "profile": child(
            {"section": "profile", "limit": QUICK["limit"], "max_len": QUICK["max_len"]}
        ),
    }
    result["profile"]["matmul_peak_gflops"] = result["matmul_peak_gflops"]
    result["minutes"] = round((time.perf_counter() - started) / 60, 1)
    return result


def print_quick(q: dict) -> None:
    t, c, g, i = q["training"], q["cold_start"], q["ingest"], q["inference"]
    print(f"\nquick bench, {q['date']}, {q['cpus']} CPUs, {q['gpus']} GPUs, {q['minutes']} min")
    print(
        f"ingest (full archive): {g['seconds']} s, {g['peak_mib']} MiB peak "
        f"(rounds: {g['seconds_runs']} s; {g['peak_mib_runs']} MiB)"
    )
    print(
        f"one review, cold CLI: {c['seconds']} s, {c['peak_mib']} MiB peak (rounds: "
        f"{c['seconds_runs']} s); {c['identity_reviews']} test reviews: max |CLI - evaluate| "
        f"{c['max_abs_diff_vs_evaluate']:.1e}"
    )
    print(
        f"batch scoring: {i['batch_reviews_per_s']} reviews/s (best of {i['batch_reviews_per_s_runs']})"
    )
    print(
        f"training at max_len {t['max_len']} ({t['reviews']} reviews, {t['max_epochs']} epochs): "
        f"{t['speedup']}x the tutorial (rounds {t['speedup_runs']}), "
        f"{t['speedup_over_tutorial_our_batch']}x at the same batch size; test accuracy "
        f"{t['pipeline']['test_accuracy']} vs {t['tutorial']['test_accuracy']}"
    )
    f = q["profile"]
    print(
        f"where a training epoch goes ({f['reviews']} reviews, max_len {f['max_len']}, "
        f"{f['batches']} batches of {f['batch_size']}): {f['epoch_seconds']} s = sequence layers "
        f"{f['sequence_seconds']} s + per-step {f['per_step_seconds']} s + rest "
        f"{f['rest_seconds']} s; input pipeline alone {f['input_pipeline_seconds']} s; one token "
        f"{f['per_token_ms']} ms = {f['token_gflops']} GFLOP/s of "
        f"{f['matmul_peak_gflops']} peak; a step of one token {f['per_step_ms']} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--model", default=str(ROOT / "models/model.keras"))
    parser.add_argument("--max-len", type=int, nargs="+", default=[200, 500])
    parser.add_argument(
        "--epochs",
        type=int,
        default=TUTORIAL_EPOCHS,
        help="training: the tutorial's fixed epochs, and the most the pipeline runs",
    )
    parser.add_argument("--limit", type=int, default=None, help="use only N reviews per part")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="turns each side takes (training, settings, inference)",
    )
    parser.add_argument("--settings-reviews", type=int, default=5000)
    parser.add_argument("--settings-epochs", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument(
        "--stage-sample",
        type=int,
        default=None,
        help="stages on N reviews per class and split instead of the full data",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the headline numbers, with their spread: ingest, a one-review "
        "cold start, batch scoring, training at max_len 500 on a slice",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # a fresh process for one measurement (see `child`)
        print(json.dumps(run_child(json.loads(args.child))))
        return

    kept = (
        json.loads(Path(args.json).read_text()) if args.json and Path(args.json).is_file() else {}
    )
    today = time.strftime("%Y-%m-%d")
    peak = matmul_peak_flops()
    if args.quick:
        results = {**kept, "quick": quick(Path(args.model), peak, today)}
        print_quick(results["quick"])
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        return
    # Sections are re-run one at a time, on machines of different speed: each keeps its own
    # date, commit and matmul peak, so its numbers can be read against the others.
    when = {"date": today, "commit": head_commit(), "matmul_peak_gflops": round(peak / 1e9, 1)}
    results: dict = {
        **kept,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "measured": {**kept.get("measured", {}), **{section: when for section in args.only}},
    }
    if "training" in args.only:
        results["training"] = training(args.max_len, args.epochs, args.limit, peak, args.rounds)
    if "settings" in args.only:
        results["settings"] = settings(
            args.settings_reviews, args.batch_sizes, args.settings_epochs, args.rounds
        )
    if "stages" in args.only:
        results["stages"] = stages(sample_per_class=args.stage_sample)
    if "inference" in args.only:
        if Path(args.model).is_file():
            results["inference"] = inference(Path(args.model), args.rounds)
        else:
            print(
                f"bench: no model at {args.model}: inference skipped (run `dvc repro`)",
                file=sys.stderr,
            )
    if "pinning" in args.only:
        results["pinning"] = pinning(args.settings_reviews, args.settings_epochs, args.rounds)
    if "ingest" in args.only:
        results["ingest"] = ingest(QUICK["rounds"])
    if "cold_start" in args.only:
        results["cold_start"] = cold_start(
            Path(args.model), QUICK["rounds"], QUICK["identity_reviews"]
        )
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
