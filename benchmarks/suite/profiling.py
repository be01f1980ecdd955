"""Where a training epoch of the default network goes: the sequence layers, the per-step
cost, and the rest (run in a child process)."""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from imdb_sentiment.core import params as P
from imdb_sentiment.modeling.fitting import (
    compile_classifier,
    fit_settings_of,
    make_dataset,
    set_determinism,
)
from imdb_sentiment.modeling.zoo import build_classifier, network_of

from .workload import VOCAB_SIZE, encode, stage_params


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
    model = build_classifier(network_of(cfg), VOCAB_SIZE)
    compile_classifier(model, fit_settings_of(cfg))
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
