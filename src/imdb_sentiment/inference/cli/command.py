"""`imdb-sentiment predict`: read, score and write reviews a chunk at a time.

Each chunk's rows are written and flushed before the next chunk is read, so memory stays
flat for input of any length, and rows come out while the input is still arriving. The model
loads (TensorFlow imports) only here, after the arguments, the output and the input have been
checked, because importing TensorFlow takes seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from imdb_sentiment.core import startup
from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.inference.cli.readers import Reader, Row, open_reader
from imdb_sentiment.inference.cli.terminal import (
    ProgressLine,
    on_terminal,
    say,
    stdout_on_terminal,
)
from imdb_sentiment.inference.cli.writers import (
    Outcome,
    RecordWriter,
    Sink,
    file_sink,
    json_text,
    output_format,
    stdout_sink,
)

EXIT_OK, EXIT_SOME_FAILED = 0, 1
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + 2, 128 + 15  # as a shell reports SIGINT, SIGTERM
# A chunk ends at CHUNK_ROWS rows or CHUNK_CHARS characters of texts, ids and errors; sooner
# when the input pauses for CHUNK_PAUSE seconds or the chunk's first row has waited
# CHUNK_SECONDS, so that a review typed or trickled in is answered at once, while a producer
# that writes in bursts still fills its chunks (fewer, fuller model calls)
CHUNK_ROWS = 1_000
CHUNK_CHARS = 16 * 2**20
CHUNK_PAUSE = 0.05
CHUNK_SECONDS = 1.0
MAX_REPORTED_FAILURES = 20
PROGRESS_DELAY = 1.0  # seconds before a progress bar shows: none for quick runs
# Imported by TensorFlow and Keras at start-up, each inside `try: ... except ImportError`,
# for parts that scoring with a loaded model never runs (scikit-learn wrappers, plotting,
# pandas and SciPy input adapters). Skipping them is most of what makes a one-review call
# quick (docs/lab/decisions.md).
UNUSED_BY_SCORING = ("sklearn", "matplotlib", "scipy", "pandas")


class Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, `kill`), raised as Ctrl-C is, so that outputs are left as they were."""


def stop_message(stop: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped the run, in words, and the exit status for it."""
    if isinstance(stop, Terminated):
        return "terminated", EXIT_TERMINATED
    return "interrupted", EXIT_INTERRUPTED


class Scored(Protocol):
    """What the scorer gives per text (labelling.Scored)."""

    @property
    def label(self) -> str | None: ...
    @property
    def probability(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...


Scorer = Callable[[list[str]], Sequence[Scored]]


@contextlib.contextmanager
def skipping_imports(names: tuple[str, ...]) -> Iterator[None]:
    """Inside this block, importing `names` (not yet loaded) raises ImportError; after it,
    they import normally. Modules imported inside keep their fallbacks for the skipped ones."""
    skipped = [name for name in names if name not in sys.modules]
    for name in skipped:  # a None entry makes `import name` raise ImportError
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in skipped:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def load_scorer(args: argparse.Namespace) -> Scorer:
    """Load the model; returns a function that labels a list of texts as labelling does."""
    startup.pin_kernels()  # the evaluate stage's kernels, so scores equal its scores
    with (
        startup.quiet_tensorflow(args.verbose),
        skipping_imports(UNUSED_BY_SCORING),
    ):
        from imdb_sentiment.inference import labelling, scoring
    scoring.tune_threads()
    model = scoring.load_model(args.model)

    def score(texts: list[str]) -> Sequence[Scored]:
        return labelling.score_texts(model, texts, args.threshold, args.batch_size)

    return score


def id_chars(ident: Any) -> int:
    """The length of an id as it will be written (JSON text for what is not a string)."""
    if ident is None:
        return 0
    return len(ident) if isinstance(ident, str) else len(json_text(ident))


def row_chars(row: Row) -> int:
    """Characters a row holds until its chunk is written. Its id and error count as well as
    its text: a JSON-lines id may be megabytes beside a short review, and a chunk budgeted
    by texts alone would then hold a thousand of them."""
    return len(row.text or "") + id_chars(row.id) + len(row.error or "")


def chunks(
    reader: Reader, max_rows: int = CHUNK_ROWS, max_chars: int = CHUNK_CHARS
) -> Iterator[list[Row]]:
    """The reader's rows in chunks, each handed on as soon as it is full, the input pauses or
    its first row has waited CHUNK_SECONDS. Input that stops the run (a record over the
    bound, a CSV quote never closed) stops it only once the rows read before it are handed
    on, so that they are written too: the rows on stdout are every row before the bad one."""
    chunk: list[Row] = []
    chars = 0
    started = 0.0
    rows = iter(reader.rows)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except PipelineError:
            if chunk:
                yield chunk
            raise
        if not chunk:
            started = time.monotonic()
        chunk.append(row)
        chars += row_chars(row)
        if (
            len(chunk) >= max_rows
            or chars >= max_chars
            or time.monotonic() - started >= CHUNK_SECONDS
            or not reader.ready(CHUNK_PAUSE)
        ):
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


def classify(rows: list[Row], score: Scorer) -> list[Outcome]:
    """Outcomes of a chunk: readable rows scored, unreadable ones keeping their error."""
    readable = [row for row in rows if row.error is None]
    scored = list(score([row.text or "" for row in readable])) if readable else []
    if len(scored) != len(readable):
        raise PipelineError(
            f"the model gave {len(scored)} results for {len(readable)} "
            "reviews: the model is broken (retrain it or pass another --model)"
        )
    results = iter(scored)
    outcomes = []
    for row in rows:
        if row.error is not None:
            outcomes.append(Outcome(row.id, error=row.error))
        else:
            result = next(results)
            outcomes.append(Outcome(row.id, result.label, result.probability, result.error))
    return outcomes


class FailureReport:
    """Failed rows on stderr as they come (the first MAX_REPORTED_FAILURES), then a count."""

    def __init__(self) -> None:
        self.rows = self.failed = 0

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for n, outcome in enumerate(outcomes, self.rows + 1):
            if outcome.error is not None:
                self.failed += 1
                if self.failed <= MAX_REPORTED_FAILURES:
                    say(f"row {n}: {outcome.error}")
        self.rows += len(outcomes)

    def summary(self) -> None:
        if self.failed > MAX_REPORTED_FAILURES:
            say(f"... and {self.failed - MAX_REPORTED_FAILURES} more failed rows")
        if self.failed:
            say(f"{self.failed} of {self.rows} reviews failed")


@contextlib.contextmanager
def progress(reader: Reader, rows_shown: bool = False) -> Iterator[Callable[[], None]]:
    """Progress through a file input on a terminal, in bytes of its size, shown once the run
    has taken PROGRESS_DELAY seconds and erased if it fails; yields the function to call after
    each chunk. Stdin, pipes and devices have no size, logs no use for it: no progress then."""
    size = reader.lines.source.size if reader.lines is not None else None
    # rows printed on the terminal show the progress themselves, and a progress line would be
    # drawn between them
    if size is None or not on_terminal() or rows_shown:
        yield lambda: None
        return
    line = ProgressLine("predict", size, PROGRESS_DELAY)
    try:
        yield lambda: line.update(reader.consumed)
    except BaseException:
        line.close(keep=False)  # only the error stays on the screen
        raise
    line.close(keep=True)


@dataclass
class Tally:
    """How far a run got, for the message when it is interrupted."""

    rows_written: int = 0


def output_sink(args: argparse.Namespace) -> contextlib.AbstractContextManager[Sink]:
    return stdout_sink() if args.output is None else file_sink(args.output)


def stream(args: argparse.Namespace, tally: Tally) -> FailureReport:
    """Read, score and write every chunk; the output is complete when this returns."""
    fmt = output_format(args.output) if args.output else ".jsonl" if args.json else ".csv"
    failures = FailureReport()
    with (
        output_sink(args) as sink,
        open_reader(args.input, args.reviews, args.text_column, args.id_column) as reader,
    ):
        score = load_scorer(args)
        shown_rows = args.output is None and stdout_on_terminal()
        writer = RecordWriter(sink, fmt, reader.id_column, terminal=shown_rows)
        with progress(reader, shown_rows) as advance:
            for chunk in chunks(reader):
                outcomes = classify(chunk, score)
                writer.write(outcomes)
                tally.rows_written = writer.rows_written
                failures.add(outcomes)
                advance()
        if writer.rows_written == 0:
            raise PipelineError(f"no reviews in {args.input or 'stdin'}")
    return failures


def predict(args: argparse.Namespace) -> int:
    """The `predict` command: returns the exit status (0 all ok, 1 some rows failed)."""
    tally = Tally()
    try:
        failures = stream(args, tally)
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: an --output file was left as it was
        what, status = stop_message(stop)
        if args.output is not None or not tally.rows_written:
            say(f"{what}: nothing written")
        else:
            say(f"{what}: {tally.rows_written} rows written to stdout")
        return status
    if args.output is not None:
        rows = failures.rows
        say(f"wrote {rows} row{'s' * (rows != 1)} to {args.output}")
    failures.summary()
    return EXIT_SOME_FAILED if failures.failed else EXIT_OK
