"""The command line's arguments: the parser, and the checks on their combinations that need no
input read (so a wrong combination is refused before stdin is touched)."""

from __future__ import annotations

import argparse
import os
from typing import NoReturn

from imdb_sentiment.core import locations
from imdb_sentiment.core.errors import PipelineError, one_line
from imdb_sentiment.inference.cli.command import CHUNK_ROWS
from imdb_sentiment.inference.cli.readers import MAX_RECORD_BYTES, input_format
from imdb_sentiment.inference.cli.terminal import quoted
from imdb_sentiment.inference.cli.writers import RESULT_COLUMNS, output_format
from imdb_sentiment.inference.defaults import (
    DECISION_THRESHOLD,
    PROBABILITY_DECIMALS,
    SCORING_BATCH_SIZE,
)

EPILOG = f"""\
input:
  Reviews come from the arguments, or from --input FILE (.txt: one review per
  line; .csv/.jsonl: the --text-column), or else from stdin (or --input -),
  one review per line, in UTF-8 (or UTF-16 or UTF-32 with its byte-order
  mark). Bytes that do not decode are replaced (with one warning). Reviews are
  read, scored and written in chunks (up to {CHUNK_ROWS:,} rows, fewer when the input
  pauses), so input of any length streams in flat memory. One line, CSV record
  or JSON line may hold {MAX_RECORD_BYTES // 2**20} MiB; a longer one stops the run (status 2).

output:
  CSV on stdout (JSON lines with --json), or --output FILE (.csv or .jsonl),
  one row per input review in input order: [id,] label, probability, error.
  probability is P(positive), rounded to {PROBABILITY_DECIMALS} decimals (trailing zeros dropped);
  label is "positive" when the probability as shown is at least --threshold.
  An --output file is replaced only once complete; stdout gets each chunk as
  it is done.

exit status:
  0  every review was classified
  1  some reviews failed (e.g. empty text, no words, a CSV row with the wrong
     number of fields or a stray quote); listed on stderr and in the error
     column; or the reader of stdout went away (e.g. `| head`)
  2  bad usage or input: unknown option, missing file or column, a record
     over the limit, a CSV quote left open to the end, an unreadable or broken
     model, a failed read or write (full disk, no permission); rows already
     on stdout stay, an --output file is left as it was
  130  interrupted (Ctrl-C): likewise
  143  terminated (SIGTERM): likewise

examples:
  imdb-sentiment predict "A wonderful, moving film."
  imdb-sentiment predict --input reviews.csv --output scored.csv
  cut -f2 reviews.tsv | imdb-sentiment predict --json
"""


class Parser(argparse.ArgumentParser):
    """argparse, with its error messages (which quote the arguments) escaped for the terminal."""

    def error(self, message: str) -> NoReturn:
        """One line: what was wrong, and where the usage is (not the usage itself)."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def threshold_arg(value: str) -> float:
    """argparse type: a probability in [0, 1]."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return number


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imdb-sentiment")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="imdb-sentiment",
        description="Classify movie reviews as positive or negative.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "predict",
        help="classify reviews (arguments, file or stdin)",
        description="Classify reviews with the trained end-to-end model.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("reviews", nargs="*", metavar="REVIEW", help="review texts to classify")
    p.add_argument("--input", "-i", metavar="FILE", help="reviews from a .txt, .csv or .jsonl file")
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write results to a .csv or .jsonl file (default: CSV on stdout)",
    )
    out.add_argument("--json", action="store_true", help="JSON lines on stdout instead of CSV")
    p.add_argument(
        "--text-column",
        default=None,
        help="text column/key of a .csv or .jsonl input (default: text)",
    )
    p.add_argument(
        "--id-column",
        default=None,
        help="id column/key to carry into the output (default: 'id' if present)",
    )
    p.add_argument(
        "--model",
        default=None,
        help=f"end-to-end .keras model (default: ${locations.MODEL_ENV}, else the model "
        f"{locations.PIPELINE_FILE} names here, else the project's)",
    )
    p.add_argument(
        "--verbose", "-v", action="store_true", help="also show TensorFlow's own log lines"
    )
    p.add_argument(
        "--threshold",
        type=threshold_arg,
        default=DECISION_THRESHOLD,
        help="P(positive) at or above which a review is positive (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=SCORING_BATCH_SIZE,
        help="reviews per model call (default: %(default)s)",
    )
    return parser


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (through links too); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse what the arguments alone show to be wrong, before any input is read."""
    from_file = args.input not in (None, "-")
    if args.input is not None and args.reviews:
        raise PipelineError("give reviews as arguments or --input FILE, not both")
    suffix = input_format(args.input) if from_file else None
    # once read as the default column without a word; an empty --id-column stays allowed,
    # as pandas' to_csv names its index column ""
    if args.text_column == "":
        raise PipelineError("--text-column is empty; give the name of the column of reviews")
    for option, value in (("--text-column", args.text_column), ("--id-column", args.id_column)):
        if value is not None and suffix not in (".csv", ".jsonl"):
            raise PipelineError(
                f"{option} needs a .csv or .jsonl --input (reviews from "
                "arguments, stdin or a .txt file have no columns)"
            )
    if args.id_column in RESULT_COLUMNS:
        raise PipelineError(
            f"--id-column {quoted(args.id_column)} would collide with the "
            f"output's own {args.id_column} column; carry another column"
        )
    if args.output is not None:
        output_format(args.output)
        if from_file and same_file(args.input, args.output):
            raise PipelineError(
                f"--output {args.output} is the --input file: the reviews "
                "would be replaced by their scores; write to another file"
            )
    if not args.model:
        raise PipelineError("--model is empty; give the path of a .keras file")
    if not os.path.isfile(args.model):  # before stdin is read in vain
        if os.path.isdir(args.model):
            raise PipelineError(f"--model {args.model} is a directory; give the .keras file")
        raise PipelineError(f"model file not found: {args.model} (run `dvc repro` or pass --model)")
