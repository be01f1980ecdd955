"""The default model's training speed under each batch size, thread pools and XLA."""

from __future__ import annotations

import json
import statistics
import sys

from imdb_sentiment.core import params as P

from .harness import ROOT, child
from .training import fit_pipeline_way
from .workload import encode, stage_params, thread_label

# A thread-pool setting tried against TensorFlow's default: one thread per op, two ops at once.
TUNED_THREADS = [2, 1]


def settings_trial(trial: dict, limit: int | None, epochs: int) -> dict[str, float]:
    """The default model's training speed (reviews/s) with `trial`'s train settings and
    random embeddings, in a child process whose thread pools are set."""
    train = encode("train", P.load("preprocess", ROOT / P.PARAMS_FILE).max_len, limit)
    cfg = P.from_dict(
        "train", {**P.to_dict(stage_params()), **trial, "pretrained_embeddings": False}
    )
    _, seconds, _, _ = fit_pipeline_way(cfg, train, epochs=epochs)
    return {"reviews_per_s": len(train) * len(seconds) / sum(seconds)}


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
