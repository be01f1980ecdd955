"""Peak memory of one SavedModel request: short reviews, with and without a very long one.

What a TF Serving client's single request costs.

    python benchmarks/serving_memory.py                       # models/serving/1
    python benchmarks/serving_memory.py --saved-model DIR --short 1000 --long-mb 1

Each request is scored in a fresh process through the `serving_default` signature, and the
process's peak RSS is read after it. Prints one JSON object: the peak (MB) of the short
reviews alone, of the long review alone, and of both in one request, and what the long
review adds to the short ones' request. A model that padded the batch to its longest review
before cutting it to the tokens it reads would add (short reviews x long review's tokens)
ids, growing with the long review; one that cuts first adds at most (reviews x max_len)
steps of the network, however long the review.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from imdb_sentiment.core import locations

MB = 2**20
SCORE = """
import json, resource, sys
import tensorflow as tf
short, long_bytes = int(sys.argv[2]), int(sys.argv[3])
texts = [f"A fine film, review {i}." for i in range(short)]
if long_bytes:
    word = "dull "
    texts.append(word * (long_bytes // len(word)))
model = tf.saved_model.load(sys.argv[1])
probability = model.signatures["serving_default"](text=tf.constant(texts))["probability"]
assert probability.shape == (len(texts),)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))  # KiB on Linux
"""


def peak_mb(saved_model: Path, short: int, long_bytes: int) -> float:
    """The peak RSS (MB) of a fresh process that scores one such request."""
    result = subprocess.run(
        [sys.executable, "-c", SCORE, str(saved_model), str(short), str(long_bytes)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"error: serving_memory: scoring failed: {tail}")
    return round(float(result.stdout.strip().splitlines()[-1]), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved-model", type=Path, help="default: models/serving/1")
    parser.add_argument("--short", type=int, default=1000, help="short reviews in the request")
    parser.add_argument("--long-mb", type=float, default=1.0, help="size of the long review")
    args = parser.parse_args()
    if args.saved_model is None:
        args.saved_model = locations.PROJECT / locations.pipeline_paths()["serving"] / "1"
    if not (args.saved_model / "saved_model.pb").is_file():
        raise SystemExit(f"error: serving_memory: no SavedModel at {args.saved_model}")
    long_bytes = int(args.long_mb * MB)
    short_alone = peak_mb(args.saved_model, args.short, 0)
    long_alone = peak_mb(args.saved_model, 0, long_bytes)
    both = peak_mb(args.saved_model, args.short, long_bytes)
    print(
        json.dumps(
            {
                "short_reviews": args.short,
                "long_review_mb": args.long_mb,
                "peak_mb_short_alone": short_alone,
                "peak_mb_long_alone": long_alone,
                "peak_mb_both": both,
                "long_review_adds_mb": round(both - short_alone, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
