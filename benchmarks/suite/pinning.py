"""What reproducibility costs: training on the pinned kernels against the CPU's own choice,
and the word vectors' SVD on one BLAS thread against the default thread count."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from imdb_sentiment.core import params as P
from imdb_sentiment.core import startup
from imdb_sentiment.data import processed

from .harness import ROOT, child, paths


def svd_seconds(one_thread: bool) -> dict[str, float]:
    """Seconds of the word vectors' truncated SVD (the full-data PPMI matrix of the training
    part), on one BLAS thread as preprocess runs it, or on the machine's default."""
    from sklearn.utils.extmath import randomized_svd
    from threadpoolctl import threadpool_limits

    from imdb_sentiment.data.embeddings import WINDOW, cooccurrence, ppmi

    vocab_size = len(processed.load_vocabulary(paths()["processed"])) + 2
    part = processed.load_split(paths()["processed"], "train", vocab_size)
    cfg = P.load("preprocess", ROOT / P.PARAMS_FILE)
    matrix = ppmi(cooccurrence(part.ids, part.offsets, vocab_size, WINDOW))
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
