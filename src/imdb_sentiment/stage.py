"""Run one pipeline stage with pinned kernels: `python -m imdb_sentiment.stage NAME [ARGS...]`.

dvc.yaml starts every stage this way, so a stage's outputs do not depend on
the CPU's instruction set (see `kernels`). Thread counts need no pinning: each
stage's results are independent of them by construction.
"""

from __future__ import annotations

import importlib
import sys

from imdb_sentiment import kernels

STAGES = ("ingest", "preprocess", "train", "evaluate", "export")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in STAGES:
        print(f"usage: python -m imdb_sentiment.stage {{{','.join(STAGES)}}} [ARGS...]",
              file=sys.stderr)
        raise SystemExit(2)
    kernels.pin()  # before the stage imports NumPy or TensorFlow
    module = importlib.import_module(f"imdb_sentiment.{argv[0]}")
    module.main(argv[1:])


if __name__ == "__main__":
    main()
