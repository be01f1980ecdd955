"""`imdb-sentiment`: classify movie reviews with the trained model from the command line.

    parser.py    the arguments, and the checks on them made before any input is read
    readers.py   reviews from arguments, a .txt, .csv or .jsonl file, or stdin, as they arrive
    writers.py   rows out as CSV or JSON lines, a chunk at a time; atomic --output files
    terminal.py  messages on stderr, user text escaped
    command.py   `predict`: read, score and write a chunk at a time
    main.py      the entry point: failures as one line and an exit status

Loading the model and scoring live in `imdb_sentiment.inference.scoring` and
`imdb_sentiment.inference.labelling`, imported only when a command runs, because importing
TensorFlow takes seconds and `--help` should not.
"""

from imdb_sentiment.inference.cli.command import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    skipping_imports,
)
from imdb_sentiment.inference.cli.main import main, run
from imdb_sentiment.inference.cli.parser import build_parser

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "build_parser",
    "main",
    "run",
    "skipping_imports",
]
