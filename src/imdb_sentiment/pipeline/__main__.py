"""Run one pipeline stage: `python -m imdb_sentiment.pipeline NAME [ARGS...]`.

dvc.yaml starts every stage but the fingerprint this way: the numeric kernels are pinned
first, so a stage's outputs do not depend on the CPU's instruction set, and TensorFlow
loads without its C++ log lines (IMDB_SENTIMENT_VERBOSE=1 keeps them); see `startup`. The
thread variables need no pinning: training takes its thread pools from params.yaml, and
scoring's results do not depend on them. Each stage's time and peak memory go to the run
log (`core.runlog`), never into its outputs.
"""

from __future__ import annotations

import importlib
import sys

from imdb_sentiment.core import startup
from imdb_sentiment.core.runlog import StageTimer

STAGES = ("ingest", "preprocess", "train", "evaluate", "export")
# Stages that load TensorFlow, some only inside a function: it is loaded up front here,
# where its start-up lines can be kept out of the stage's output.
TENSORFLOW_STAGES = ("preprocess", "train", "evaluate", "export")


COMMAND = "python -m imdb_sentiment.pipeline"
USAGE = f"usage: {COMMAND} {{{','.join(STAGES)}}} [ARGS...]  ({COMMAND} NAME --help: a stage's own)"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(f"Run one pipeline stage, as dvc.yaml does.\n{USAGE}")
        return
    if not argv or argv[0] not in STAGES:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    sys.argv[0] = f"{COMMAND} {argv[0]}"  # the stage's argparse names itself from it
    startup.pin_kernels()  # before the stage imports NumPy or TensorFlow
    with StageTimer(argv[0]):
        with startup.quiet_tensorflow():
            if argv[0] in TENSORFLOW_STAGES:
                importlib.import_module("keras")
            module = importlib.import_module(f"imdb_sentiment.pipeline.{argv[0]}")
        module.main(argv[1:])


if __name__ == "__main__":
    main()
