"""Where the default network's train step goes: the step as the train stage runs it, against
the same step without one part at a time.

    python benchmarks/train_step.py            # a table on stdout; about a minute on 2 cores
    python benchmarks/train_step.py --length 400 --rounds 8

Every variant is the train stage's network from params.yaml (preprocess's vocabulary size,
the adversarial fit, the thread pools), built in one process on random token ids and soft
targets, `--batch` reviews of `--length` real tokens. After a warm-up the variants take
turns, `--rounds` times, each timing `STEPS` train steps; the table gives each variant's
fastest and slowest round, in ms a step. The difference between `default` and a variant
is what that part costs:

- `no-adversarial`: `train.adversarial_epsilon` 0, so one forward and backward pass a step,
  not two;
- `no-conv`: `train.conv_filters` 0, the recurrence reading the word vectors directly;
- `no-pairs`: `train.word_pair_buckets` 0, no word-pair vectors beside the word vectors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = 5
VARIANTS: dict[str, dict] = {
    "default": {},
    "no-adversarial": {"adversarial_epsilon": 0.0},
    "no-conv": {"conv_filters": 0},
    "no-pairs": {"word_pair_buckets": 0},
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--length", type=int, default=230, help="real tokens per review")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    from imdb_sentiment.core import params as P
    from imdb_sentiment.core.startup import set_thread_pools

    stage = P.load("train", ROOT / P.PARAMS_FILE)
    vocab_size = P.load("preprocess", ROOT / P.PARAMS_FILE).vocab_size  # with padding and OOV
    set_thread_pools(stage.inter_op_threads, stage.intra_op_threads)

    import numpy as np

    from imdb_sentiment.modeling.adversarial import AdversarialFit
    from imdb_sentiment.modeling.fitting import (
        compile_classifier,
        fit_settings_of,
        set_determinism,
    )
    from imdb_sentiment.modeling.zoo import build_classifier, network_of

    rng = np.random.default_rng(0)
    x = rng.integers(2, vocab_size, (args.batch, args.length)).astype(np.int32)
    y = rng.random(args.batch).astype(np.float32)
    steps = {}
    for name, change in VARIANTS.items():
        cfg = P.from_dict("train", {**P.to_dict(stage), "pretrained_embeddings": False, **change})
        set_determinism(0)
        model = build_classifier(network_of(cfg), vocab_size)
        settings = fit_settings_of(cfg)
        fitted = (
            AdversarialFit(model, settings.adversarial_epsilon)
            if settings.adversarial_epsilon
            else model
        )
        compile_classifier(fitted, settings)
        for _ in range(3):  # traced and warm
            fitted.train_on_batch(x, y)
        steps[name] = fitted
    ms: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, fitted in steps.items():
            started = time.perf_counter()
            for _ in range(STEPS):
                fitted.train_on_batch(x, y)
            ms[name].append((time.perf_counter() - started) / STEPS * 1000)
    print(f"one train step, {args.batch} reviews of {args.length} tokens, {args.rounds} rounds")
    print("| variant | ms a step, fastest-slowest round |")
    print("|---|---|")
    for name, times in ms.items():
        print(f"| {name} | {min(times):.1f}-{max(times):.1f} |")


if __name__ == "__main__":
    main()
