"""`imdb-sentiment`: classify movie reviews with the trained model from the command line.

Reading and writing rows lives here as small functions; loading the model and
scoring live in `imdb_sentiment.inference.scoring` and `imdb_sentiment.inference.labelling`, imported only
when a command runs, because importing TensorFlow takes seconds and `--help`
should not.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from imdb_sentiment.core import locations, startup
from imdb_sentiment.core.artifacts import atomic_path
from imdb_sentiment.core.errors import PipelineError, exit_on_error

if TYPE_CHECKING:  # labelling imports TensorFlow; annotations only here
    from imdb_sentiment.inference.labelling import Scored

EXIT_OK, EXIT_SOME_FAILED = 0, 1
INPUT_FORMATS = (".txt", ".csv", ".jsonl")
OUTPUT_FORMATS = (".csv", ".jsonl")
MAX_REPORTED_FAILURES = 20

EPILOG = """\
input:
  Reviews come from the arguments, or from --input FILE (.txt: one review per line;
  .csv/.jsonl: the --text-column), or else from stdin (or --input -), one review per
  line, in UTF-8 (or UTF-16 with its byte-order mark). Bytes that are not UTF-8 are
  replaced (with one warning).

output:
  CSV on stdout (JSON lines with --json), or --output FILE (.csv or .jsonl), one
  row per input review in input order: [id,] label, probability, error.
  label is "positive" when probability = P(positive) >= --threshold.

exit status:
  0  every review was classified
  1  some reviews failed (e.g. empty text, no words, a CSV row with the wrong number of
     fields); listed on stderr and in the error column; or the reader of stdout went
     away (e.g. `| head`)
  2  bad usage or input: unknown option, missing file or column, unreadable model
  130  interrupted (Ctrl-C): nothing written

examples:
  imdb-sentiment predict "A wonderful, moving film."
  imdb-sentiment predict --input reviews.csv --output scored.csv
  cut -f2 reviews.tsv | imdb-sentiment predict --json
"""


@dataclass(frozen=True)
class Row:
    """One input review: its text and id, or why it could not be read."""

    text: str | None
    id: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Table:
    """The rows to classify and the name of the id column carried through (if any)."""

    rows: list[Row]
    id_column: str | None = None


class Decoder:
    """UTF-8 decoding that replaces bad bytes and warns on stderr once per run."""

    def __init__(self) -> None:
        self.warned = False

    def __call__(self, data: bytes, source: str) -> str:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # what Windows tools save as "Unicode text": its BOM says so
            return data.decode("utf-16", errors="replace")
        try:
            return data.decode("utf-8-sig")  # -sig: a BOM would hide the first CSV column
        except UnicodeDecodeError as err:
            if not self.warned:
                print(f"warning: {source} is not valid UTF-8 (first bad byte at offset "
                      f"{err.start}); undecodable bytes replaced with U+FFFD", file=sys.stderr)
                self.warned = True
            return data.decode("utf-8-sig", errors="replace")


def split_lines(text: str, source: str | None = None) -> list[str]:
    """Lines of a text file: '\\n' or '\\r\\n' separated, no phantom row after the last newline.

    str.splitlines is avoided on purpose: it also splits on form feeds and
    Unicode separators, which may occur inside a review. A carriage return that
    ends no line (old Mac line ends) is kept inside its review, with a warning
    naming `source`.
    """
    if not text:
        return []
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    if source is not None and any("\r" in line for line in lines):
        print(f"warning: {source} has carriage returns (\\r) that end no line; lines are "
              "split at \\n only, so they stay inside their review", file=sys.stderr)
    return lines


def resolve_id_column(columns: Iterable[str], id_column: str | None, source: str) -> str | None:
    """The id column to carry: the one asked for (must exist), else 'id' when present."""
    columns = list(columns)
    if id_column is None:
        return "id" if "id" in columns else None
    if id_column not in columns:
        raise PipelineError(f"{source}: no id column {id_column!r} (columns: {', '.join(columns)})")
    return id_column


def require_column(columns: Iterable[str], name: str, source: str) -> None:
    columns = list(columns)
    if name not in columns:
        raise PipelineError(f"{source}: no text column {name!r} (columns: {', '.join(columns)}); "
                            "choose one with --text-column")


def read_csv(text: str, source: str, text_column: str, id_column: str | None) -> Table:
    """Rows of a CSV file with a header; the text column must exist, once.

    Strict: a quote left open at the end of the file is an error, not a review that
    swallows the rest. A row whose field count differs from the header's fails alone
    (a comma in an unquoted review would otherwise cut it short without a word).
    """
    # Reviews can exceed the csv module's 128 KiB default field limit.
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise PipelineError(f"{source}: empty CSV file (no header row)")
        require_column(header, text_column, source)
        id_name = resolve_id_column(header, id_column, source)
        for name in {text_column, id_name} - {None}:
            if header.count(name) > 1:
                raise PipelineError(f"{source}: the header has {header.count(name)} columns "
                                    f"named {name!r}; which one to read is ambiguous")
        text_at = header.index(text_column)
        id_at = header.index(id_name) if id_name else None
        rows = []
        for record in reader:
            if not record:
                continue  # a blank line, as csv.DictReader skips it
            ident = record[id_at] if id_at is not None and id_at < len(record) else None
            if len(record) != len(header):
                rows.append(Row(None, ident, error=f"CSV line {reader.line_num} has "
                                f"{len(record)} fields, the header {len(header)} (quote "
                                "fields that hold commas)"))
            else:
                rows.append(Row(record[text_at], ident))
    except csv.Error as err:
        raise PipelineError(f"{source}: bad CSV near line {reader.line_num}: {err}") from None
    return Table(rows, id_name)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json_line(line: str) -> Any:
    """json.loads, strict: NaN and Infinity, which Python accepts, are not JSON."""
    return json.loads(line, parse_constant=_no_constant)


def parse_jsonl_row(line: str, text_column: str, id_name: str | None) -> Row:
    """One JSON-lines record as a Row; problems become the row's error, not an exception."""
    try:
        record = load_json_line(line)
    except json.JSONDecodeError as err:
        return Row(None, error=f"invalid JSON: {err}")
    except (ValueError, RecursionError) as err:  # huge numbers, deep nesting, NaN
        return Row(None, error=f"invalid JSON: {type(err).__name__}: {str(err)[:80]}")
    if not isinstance(record, dict):
        return Row(None, error="not a JSON object")
    ident = record.get(id_name) if id_name else None
    if text_column not in record:
        return Row(None, ident, error=f"no {text_column!r} key")
    value = record[text_column]
    if not isinstance(value, str):
        return Row(None, ident, error=f"{text_column!r} is not a string")
    return Row(value, ident)


def read_jsonl(text: str, source: str, text_column: str, id_column: str | None) -> Table:
    """Rows of a JSON-lines file (blank lines skipped); some record must have the text key."""
    lines = [line for line in split_lines(text) if line.strip()]
    keys: set[str] = set()
    for line in lines:
        try:
            record = load_json_line(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            keys.update(record)
    if lines and keys:
        require_column(sorted(keys), text_column, source)
    elif lines:
        raise PipelineError(f"{source}: no JSON object in the file")
    id_name = resolve_id_column(sorted(keys), id_column, source)
    return Table([parse_jsonl_row(line, text_column, id_name) for line in lines], id_name)


def read_input(path: Path, text_column: str, id_column: str | None, decode: Decoder) -> Table:
    """Rows of a .txt, .csv or .jsonl file."""
    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise PipelineError(f"{path}: unknown input format {suffix or '(none)'!r}; "
                            f"use one of {', '.join(INPUT_FORMATS)}")
    try:
        text = decode(path.read_bytes(), str(path))
    except OSError as err:
        raise PipelineError(f"cannot read {path}: {err.strerror or err}") from None
    if suffix == ".csv":
        return read_csv(text, str(path), text_column, id_column)
    if suffix == ".jsonl":
        return read_jsonl(text, str(path), text_column, id_column)
    return Table([Row(line) for line in split_lines(text, str(path))])


def read_stdin(decode: Decoder) -> Table:
    """One review per line from stdin, bytes decoded leniently."""
    if sys.stdin is None:
        raise PipelineError("no reviews given and no stdin to read them from")
    if sys.stdin.isatty():
        print("reading reviews from stdin, one per line (Ctrl-D to finish)", file=sys.stderr)
    buffer = getattr(sys.stdin, "buffer", None)
    text = decode(buffer.read(), "stdin") if buffer is not None else sys.stdin.read()
    return Table([Row(line) for line in split_lines(text, "stdin")])


def from_arguments(reviews: list[str], decode: Decoder) -> Table:
    """Reviews given as arguments; bytes the OS could not decode are replaced, not fatal."""
    return Table([Row(decode(os.fsencode(review), "an argument")) for review in reviews])


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise PipelineError(f"{path}: unknown output format {suffix or '(none)'!r}; "
                            f"use one of {', '.join(OUTPUT_FORMATS)}")
    return suffix


def writable(value: Any) -> Any:
    """An id as it can be written out: each lone surrogate (from a JSON escape) replaced
    by one U+FFFD."""
    if isinstance(value, str):
        return re.sub("[\ud800-\udfff]", "\ufffd", value)
    return value


def records(table: Table, results: list[Scored]) -> list[dict[str, Any]]:
    """Output rows: [id,] label, probability (6 decimals), error."""
    out = []
    for row, result in zip(table.rows, results):
        record: dict[str, Any] = {table.id_column: writable(row.id)} if table.id_column else {}
        record["label"] = result.label
        record["probability"] = (None if result.probability is None
                                 else round(result.probability, 6))
        record["error"] = result.error
        out.append(record)
    return out


def write_records(rows: list[dict[str, Any]], stream: TextIO, fmt: str) -> None:
    """CSV (header, empty cells for missing values) or JSON lines."""
    if fmt == ".jsonl":
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    fields = list(rows[0]) if rows else ["label", "probability", "error"]
    writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)


def csv_cell(value: Any) -> Any:
    """A JSON-lines id as a CSV cell: objects, lists and booleans as JSON, not Python."""
    if isinstance(value, dict | list | bool):
        return json.dumps(value, ensure_ascii=False)
    return value


def report_failures(rows: list[dict[str, Any]]) -> int:
    """List failed rows on stderr (1-based, as in the output); returns how many failed."""
    failed = [(n, row["error"]) for n, row in enumerate(rows, 1) if row["error"]]
    for n, error in failed[:MAX_REPORTED_FAILURES]:
        print(f"row {n}: {error}", file=sys.stderr)
    if len(failed) > MAX_REPORTED_FAILURES:
        print(f"... and {len(failed) - MAX_REPORTED_FAILURES} more failed rows", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(rows)} reviews failed", file=sys.stderr)
    return len(failed)


def read_table(args: argparse.Namespace) -> Table:
    """The rows to classify, from arguments, --input or stdin."""
    decode = Decoder()
    if args.input is not None and args.input != "-":
        table = read_input(Path(args.input), args.text_column, args.id_column, decode)
    elif args.reviews:
        table = from_arguments(args.reviews, decode)
    else:
        table = read_stdin(decode)
    if not table.rows:
        raise PipelineError(f"no reviews in {args.input or 'stdin'}")
    if args.id_column is not None and table.id_column is None:
        raise PipelineError("--id-column needs a .csv or .jsonl --input")
    return table


# Imported by TensorFlow and Keras at start-up, each inside `try: ... except ImportError`,
# for parts that scoring with a loaded model never runs (scikit-learn wrappers, plotting,
# pandas and SciPy input adapters). Skipping them is most of what makes a one-review call
# quick (docs/decisions.md).
UNUSED_BY_SCORING = ("sklearn", "matplotlib", "scipy", "pandas")


@contextlib.contextmanager
def skipping_imports(names: tuple[str, ...]) -> Iterator[None]:
    """Inside this block, importing `names` (not yet loaded) raises ImportError; after it,
    they import normally. Modules imported inside keep their fallbacks for the skipped ones."""
    skipped = [name for name in names if name not in sys.modules]
    sys.modules.update(dict.fromkeys(skipped))
    try:
        yield
    finally:
        for name in skipped:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def classify(table: Table, args: argparse.Namespace) -> list[Scored]:
    """Load the model and score the readable rows; unreadable rows keep their error."""
    startup.pin_kernels()  # the evaluate stage's kernels, so scores equal its scores
    with startup.quiet_tensorflow(args.verbose), skipping_imports(UNUSED_BY_SCORING):
        from imdb_sentiment.inference import labelling, scoring
        from imdb_sentiment.inference.scoring import load_model
    from tqdm import tqdm

    scoring.tune_threads()
    model = load_model(args.model)
    readable = [i for i, row in enumerate(table.rows) if row.error is None]
    with tqdm(total=len(readable), desc="predict", unit=" reviews", file=sys.stderr,
              mininterval=1.0, disable=args.input in (None, "-")) as bar:
        scored = labelling.score_texts(model, [table.rows[i].text for i in readable],
                                   args.threshold, args.batch_size, bar.update)
    results = [labelling.Scored(error=row.error) for row in table.rows]
    for i, result in zip(readable, scored):
        results[i] = result
    return results


@contextlib.contextmanager
def output_file(path: str) -> Iterator[TextIO]:
    """A stream onto a temporary sibling of `path`, renamed onto it only on success.

    Opened before any review is read or scored, so an output that cannot be
    written (no such folder, no permission, a link, a pipe) fails before the work.
    """
    target = Path(path)
    if target.is_dir():
        raise PipelineError(f"--output {path} is a directory; give a file name")
    if not target.parent.is_dir():
        raise PipelineError(f"cannot write {path}: no such folder {target.parent}")
    if target.exists() and not target.is_file():
        raise PipelineError(f"--output {path} is not a regular file (a pipe, socket or "
                            "device); refusing to replace it (to stream results, use stdout)")
    with atomic_path(path) as tmp:
        try:
            stream = open(tmp, "w", encoding="utf-8", newline="")
        except OSError as err:
            raise PipelineError(f"cannot write {path}: {err.strerror or err}") from None
        with stream:
            yield stream


def write_stdout(rows: list[dict[str, Any]], fmt: str) -> None:
    if sys.stdout is None:
        raise PipelineError("stdout is closed: pass --output FILE")
    try:
        write_records(rows, sys.stdout, fmt)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, UnicodeEncodeError) as err:
        raise PipelineError(f"cannot write to stdout: {getattr(err, 'strerror', None) or err}"
                            ) from None


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (through links too); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def predict(args: argparse.Namespace) -> int:
    """The `predict` command: returns the exit status (0 all ok, 1 some rows failed)."""
    if not Path(args.model).is_file():  # checked early so stdin is not read in vain
        raise PipelineError(f"model file not found: {args.model} (run `dvc repro` or pass --model)")
    if args.output is None:
        table = read_table(args)
        rows = records(table, classify(table, args))
        write_stdout(rows, ".jsonl" if args.json else ".csv")
    else:
        fmt = output_format(Path(args.output))
        if args.input not in (None, "-") and same_file(args.input, args.output):
            raise PipelineError(f"--output {args.output} is the --input file: the reviews "
                                "would be replaced by their scores; write to another file")
        with output_file(args.output) as stream:
            table = read_table(args)
            rows = records(table, classify(table, args))
            try:
                write_records(rows, stream, fmt)
                stream.flush()
            except OSError as err:
                raise PipelineError(f"cannot write {args.output}: {err.strerror or err}"
                                    ) from None
        print(f"wrote {len(rows)} row{'s' * (len(rows) != 1)} to {args.output}",
              file=sys.stderr)
    return EXIT_SOME_FAILED if report_failures(rows) else EXIT_OK


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
    parser = argparse.ArgumentParser(
        prog="imdb-sentiment", description="Classify movie reviews as positive or negative.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "predict", help="classify reviews (arguments, file or stdin)",
        description="Classify reviews with the trained end-to-end model.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reviews", nargs="*", metavar="REVIEW", help="review texts to classify")
    p.add_argument("--input", "-i", metavar="FILE", help="reviews from a .txt, .csv or .jsonl file")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--output", "-o", metavar="FILE",
                     help="write results to a .csv or .jsonl file (default: CSV on stdout)")
    out.add_argument("--json", action="store_true", help="JSON lines on stdout instead of CSV")
    p.add_argument("--text-column", default="text",
                   help="text column/key of a .csv or .jsonl input (default: %(default)s)")
    p.add_argument("--id-column", default=None,
                   help="id column/key to carry into the output (default: 'id' if present)")
    p.add_argument("--model", default=None,
                   help=f"end-to-end .keras model (default: ${locations.MODEL_ENV}, else "
                        f"{locations.MODEL} here, else the project's)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also show TensorFlow's own log lines")
    p.add_argument("--threshold", type=threshold_arg, default=0.5,
                   help="P(positive) at or above which a review is positive (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=256,
                   help="reviews per model call (default: %(default)s)")
    p.set_defaults(func=predict)
    return parser


@exit_on_error
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "predict" and args.input is not None and args.reviews:
        parser.error("give reviews as arguments or --input FILE, not both")
    if getattr(args, "model", "") is None:
        args.model = str(locations.default_model())
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly instead of a traceback,
        # and point stdout at devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_SOME_FAILED


def reopen_closed_streams() -> None:
    """Point a closed stdout or stderr (`>&-`, `2>&-`) at /dev/null, so that no file the
    command opens takes its number and receives what was meant for it. Messages for a
    closed stderr are dropped; a closed stdout stays None to Python, so results meant for
    it are refused (use --output)."""
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (lives as long as the process)


def run() -> None:
    """The `imdb-sentiment` command: `main`, then the exit status.

    Once TensorFlow is loaded, the interpreter's own shutdown spends most of a second
    tearing it down (docs/decisions.md); every output is written and closed by then,
    so the streams are flushed and the process leaves at once.
    """
    reopen_closed_streams()
    try:
        code = main()
    except SystemExit as stop:
        code = stop.code
    except KeyboardInterrupt:  # Ctrl-C: results are written only at the end, so none are
        print("interrupted: nothing written", file=sys.stderr)
        code = 130
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else int(code is not None)
    try:
        if sys.stdout is not None:  # None when started with stdout closed
            sys.stdout.flush()
    except BrokenPipeError:
        status = status or EXIT_SOME_FAILED
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
