"""Scoring: the CLI's way against one batch at a time on default thread pools, one review's
latency, and the command line from a cold start checked against the evaluate stage."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_sentiment.inference import scoring
from imdb_sentiment.inference.scoring import load_model, predict_texts

from .harness import child, paths, run_measured, spread

ONE_REVIEW = "A moving, beautifully acted film; I would watch it again."


def score_test_set(model_path: Path, tuned: bool, n_single: int = 200) -> dict[str, float]:
    """One process's scoring: reviews/s over the 25,000 test reviews, single-review latency.

    tuned: the CLI's way (scoring.tune_threads, SCORING_WORKERS batches at once);
    otherwise TensorFlow's default thread pools and one batch at a time.
    """
    if tuned:
        scoring.tune_threads()
    workers = scoring.SCORING_WORKERS if tuned else 1
    model = load_model(model_path)
    test = pd.read_parquet(paths()["reviews"], filters=[("split", "==", "test")])
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
        test = pd.read_parquet(paths()["reviews"], filters=[("split", "==", "test")]).head(
            identity_reviews
        )
        source = work / "test.jsonl"
        source.write_text("".join(json.dumps({"text": t}) + "\n" for t in test["text"]))
        scored = run_measured(
            command + ["--input", str(source), "--output", str(work / "scored.csv")],
            work,
            work / "many.log",
            env,
        )
        cli = pd.read_csv(work / "scored.csv")["probability"].to_numpy()
    stage = pd.read_csv(paths()["eval_plots"] / "predictions.csv")["probability"].to_numpy()[
        : len(cli)
    ]
    return {
        **spread(runs, ("seconds", "peak_mib")),
        "review_chars": len(ONE_REVIEW),
        "identity_reviews": len(cli),
        "identity_seconds": scored["seconds"],
        "max_abs_diff_vs_evaluate": float(np.max(np.abs(cli - stage))),
    }
