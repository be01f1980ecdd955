"""Benchmarks: training throughput against the tutorial way, inference speed, hardware use.

Each comparison runs both sides in this one process on the same data, so the
ratio holds on a noisy machine. Needs the pipeline's outputs (`dvc repro`):
data/interim/reviews.parquet, data/processed/, models/model.keras.

    python benchmarks/bench.py                 # everything, table on stdout
    python benchmarks/bench.py --json out.json # also write the numbers as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

from imdb_sentiment import params as P  # noqa: E402
from imdb_sentiment import preprocess, text  # noqa: E402
from imdb_sentiment.train import make_dataset, set_determinism  # noqa: E402
from imdb_sentiment.zoo import build_classifier, load_model, predict_texts  # noqa: E402

VOCAB_SIZE = 10_000
EMBEDDING, UNITS, BATCH = 64, 64, 64


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


def encode_train(max_len: int, limit: int | None = None) -> dict[str, np.ndarray]:
    """Training-part reviews encoded with the top-10,000 vocabulary, first `max_len` tokens."""
    reviews = pd.read_parquet("data/interim/reviews.parquet", filters=[("split", "==", "train")])
    train_ids = set(preprocess.load_split("data/processed", "train")["review_ids"].tolist())
    train = reviews[reviews["id"].isin(train_ids)].sample(frac=1.0, random_state=0)[:limit]
    vocabulary = preprocess.load_vocabulary("data/processed")[: VOCAB_SIZE - 2]
    ids, offsets, _ = text.encode(text.make_vectorizer(vocabulary, ragged=True),
                                  train["text"].tolist(), max_len)
    return {"ids": ids, "offsets": offsets, "labels": train["label"].to_numpy(np.int8)}


def tutorial_way(data: dict[str, np.ndarray], max_len: int) -> tuple[float, int]:
    """Padded NumPy arrays into model.fit(validation_split=0.2): reviews/s and time steps."""
    rows = np.split(data["ids"], data["offsets"][1:-1])
    x = keras.utils.pad_sequences(rows, maxlen=max_len)  # tutorial default: pre-padding
    y = data["labels"].astype("float32")
    set_determinism(0)
    model = keras.Sequential([keras.Input((max_len,)), keras.layers.Embedding(VOCAB_SIZE, EMBEDDING),
                              keras.layers.LSTM(UNITS), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, validation_split=0.2, verbose=0)
    seconds = time.perf_counter() - start
    return len(y) / seconds, x.size


def pipeline_way(data: dict[str, np.ndarray]) -> tuple[float, int]:
    """This project's train-stage input pipeline (length buckets, masking) on the same model."""
    cut = int(len(data["labels"]) * 0.8)  # same 80/20 split as validation_split
    split = {
        "train": {"ids": data["ids"][: data["offsets"][cut]], "offsets": data["offsets"][: cut + 1],
                  "labels": data["labels"][:cut]},
        "val": {"ids": data["ids"][data["offsets"][cut]:],
                "offsets": data["offsets"][cut:] - data["offsets"][cut], "labels": data["labels"][cut:]},
    }
    cfg = P.TrainParams(model="lstm", bidirectional=False, units=[UNITS], embedding_dim=EMBEDDING,
                        pooling="last", dropout=0.0, embedding_dropout=0.0,
                        pretrained_embeddings=False, batch_size=BATCH)
    set_determinism(0)
    model = build_classifier(cfg, VOCAB_SIZE)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    train_ds = make_dataset(split["train"], BATCH, shuffle=True, seed=0, bucket_by_length=True)
    val_ds = make_dataset(split["val"], BATCH, shuffle=False, seed=0, bucket_by_length=True)
    start = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    steps = sum(int(tf.size(x)) for ds in (train_ds, val_ds) for x, _ in ds)
    return len(data["labels"]) / seconds, steps


def inference(model_path: str, n_single: int = 100) -> dict[str, float]:
    """Batch reviews/s on the 25,000 test reviews and single-review latency percentiles."""
    model = load_model(model_path)
    test = pd.read_parquet("data/interim/reviews.parquet", filters=[("split", "==", "test")])
    texts = test["text"].tolist()
    predict_texts(model, texts[:256])  # trace once
    start = time.perf_counter()
    predict_texts(model, texts, batch_size=256)
    batch_rate = len(texts) / (time.perf_counter() - start)
    latencies = []
    for review in texts[:n_single]:
        start = time.perf_counter()
        predict_texts(model, [review])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return {"batch_reviews_per_s": round(batch_rate, 1),
            "single_p50_ms": round(statistics.median(latencies), 2),
            "single_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--model", default="models/model.keras")
    parser.add_argument("--max-len", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--limit", type=int, default=None, help="use only N training reviews")
    args = parser.parse_args(argv)

    results: dict = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                     "machine": platform.machine(), "gpus": len(tf.config.list_physical_devices("GPU"))}
    peak = matmul_peak_flops()
    results["matmul_peak_gflops"] = round(peak / 1e9, 1)
    results["training"] = []
    for max_len in args.max_len:
        data = encode_train(max_len, args.limit)
        tutorial_rate, tutorial_steps = tutorial_way(data, max_len)
        ours_rate, ours_steps = pipeline_way(data)
        # FLOP/s actually spent on real (non-padding) tokens, against the matmul peak
        real_tokens = len(data["ids"])
        row = {
            "max_len": max_len,
            "tutorial_reviews_per_s": round(tutorial_rate, 1),
            "pipeline_reviews_per_s": round(ours_rate, 1),
            "speedup": round(ours_rate / tutorial_rate, 2),
            "tutorial_padding_share": round(1 - real_tokens / tutorial_steps, 3),
            "pipeline_padding_share": round(1 - real_tokens / ours_steps, 3),
            "tutorial_useful_flops_pct_of_peak": round(
                100 * lstm_train_flops(real_tokens) * tutorial_rate / len(data["labels"]) / peak, 2),
            "pipeline_useful_flops_pct_of_peak": round(
                100 * lstm_train_flops(real_tokens) * ours_rate / len(data["labels"]) / peak, 2),
        }
        results["training"].append(row)
        print(json.dumps(row), file=sys.stderr)
    if Path(args.model).is_file():
        results["inference"] = inference(args.model)

    print(f"\nmachine: {results['cpus']} CPUs, {results['gpus']} GPUs, "
          f"matmul peak {results['matmul_peak_gflops']} GFLOP/s, {results['date']}")
    print("| max_len | tutorial reviews/s | pipeline reviews/s | speedup | padding (tutorial / pipeline) "
          "| useful FLOP/s % of peak (tutorial / pipeline) |")
    print("|---|---|---|---|---|---|")
    for r in results["training"]:
        print(f"| {r['max_len']} | {r['tutorial_reviews_per_s']} | {r['pipeline_reviews_per_s']} "
              f"| {r['speedup']}x | {r['tutorial_padding_share']:.1%} / {r['pipeline_padding_share']:.1%} "
              f"| {r['tutorial_useful_flops_pct_of_peak']} / {r['pipeline_useful_flops_pct_of_peak']} |")
    if "inference" in results:
        i = results["inference"]
        print(f"\ninference (default model, 25,000 test reviews): {i['batch_reviews_per_s']} reviews/s "
              f"batched; single review p50 {i['single_p50_ms']} ms, p99 {i['single_p99_ms']} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
