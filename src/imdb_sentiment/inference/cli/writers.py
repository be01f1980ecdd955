"""Writing results a chunk at a time, each flushed, as CSV or JSON lines that parse back.

Every value is valid in its format: ids as they were read (JSON numbers as written, never
Infinity or NaN), probabilities only within [0, 1] (anything else means a broken model and
stops the run), CSV cells quoted whenever they hold a comma, quote or line break. An --output
file is written to a temporary sibling and renamed onto its name only when complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from imdb_sentiment.core.artifacts import atomic_path
from imdb_sentiment.core.errors import PipelineError, one_line
from imdb_sentiment.inference.cli.readers import JsonNumber
from imdb_sentiment.inference.defaults import PROBABILITY_DECIMALS

OUTPUT_FORMATS = (".csv", ".jsonl")
RESULT_COLUMNS = ("label", "probability", "error")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CSV_SPECIAL = re.compile('[,"\r\n]')


@dataclass(frozen=True)
class Outcome:
    """One output row: the input row's id, and its label and P(positive) or its error."""

    id: Any = None
    label: str | None = None
    probability: float | None = None
    error: str | None = None


def output_format(path: str) -> str:
    """The format of an --output file, from its suffix."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in OUTPUT_FORMATS:
        raise PipelineError(
            f"{path}: unknown output format {suffix or '(none)'!r}; "
            f"use one of {', '.join(OUTPUT_FORMATS)}"
        )
    return suffix


def without_surrogates(text: str) -> str:
    """Each lone surrogate (from a JSON escape such as "\\ud800") replaced by U+FFFD: UTF-8
    cannot hold them."""
    return _SURROGATE.sub("\ufffd", text)


def json_escape(char: str) -> str:
    """One character as a JSON escape: \\uXXXX, or a surrogate pair beyond U+FFFF."""
    return json.dumps(char)[1:-1]


def json_string(text: str) -> str:
    """A JSON string, with every character that is not printable escaped (\\uXXXX), as in
    CSV cells bound for a terminal: JSON escapes only C0 controls, and a C1 control (U+009B
    starts an escape sequence), DEL or a right-to-left override in an id or an error would
    reach the terminal raw. Line separators (U+2028, U+2029, U+0085) are among them, so
    that readers splitting lines on them (str.splitlines) see one line. Parses back to the
    same string."""
    written = json.dumps(without_surrogates(text), ensure_ascii=False)
    if written.isprintable():
        return written
    return "".join(char if char.isprintable() else json_escape(char) for char in written)


def json_text(value: Any) -> str:
    """`value` (as read from JSON: dict, list, str, JsonNumber, bool, None) as JSON text.

    JsonNumbers are written as they were read. Iterative, so an id nested as deep as the
    JSON reader allowed never hits Python's recursion limit here.
    """
    parts: list[str] = []
    pending: list[tuple[bool, Any]] = [(False, value)]  # (is literal JSON text, item)
    while pending:
        literal, item = pending.pop()
        if literal:
            parts.append(item)
        elif isinstance(item, JsonNumber):
            parts.append(item.text)
        elif isinstance(item, str):
            parts.append(json_string(item))
        elif isinstance(item, dict):
            tokens: list[tuple[bool, Any]] = [(True, "{")]
            for n, (key, member) in enumerate(item.items()):
                tokens += [(True, (", " if n else "") + json_string(key) + ": "), (False, member)]
            pending.extend(reversed(tokens + [(True, "}")]))
        elif isinstance(item, list):
            tokens = [(True, "[")]
            for n, member in enumerate(item):
                if n:
                    tokens.append((True, ", "))
                tokens.append((False, member))
            pending.extend(reversed(tokens + [(True, "]")]))
        else:  # bool, None; a float here would be a bug, and allow_nan=False says so
            parts.append(json.dumps(item, allow_nan=False))
    return "".join(parts)


def csv_cell(value: Any) -> str:
    """A value as CSV text: strings as they are, absent as empty, JSON ids (objects, lists,
    booleans) as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return without_surrogates(value)
    return json_text(value)


def csv_line(cells: Sequence[str]) -> str:
    """One CSV record. Cells holding a comma, quote or line break are quoted with quotes
    doubled; csv.writer would leave a lone carriage return unquoted, which readers take for a
    line end."""
    return (
        ",".join(
            f'"{cell.replace(chr(34), 2 * chr(34))}"' if _CSV_SPECIAL.search(cell) else cell
            for cell in cells
        )
        + "\n"
    )


def probability_text(probability: Any, row_number: int) -> str:
    """P(positive) rounded to PROBABILITY_DECIMALS places, in fixed-point with trailing zeros
    dropped ("0.5", "0.000041", "0.0"); NaN or a value outside [0, 1] is a broken model."""
    try:
        value = float(probability)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also False for NaN
        raise PipelineError(
            f"the model gave P(positive) = {probability!r} for row {row_number}, "
            "not a probability in [0, 1]: the model is broken (retrain it or "
            "pass another --model)"
        )
    # the digits of repr(round(value, PROBABILITY_DECIMALS)), as the evaluate stage writes
    # them, without the exponent repr turns to below 1e-4; + 0.0 turns -0.0 into 0.0
    digits = f"{value + 0.0:.{PROBABILITY_DECIMALS}f}".rstrip("0")
    return digits + "0" if digits.endswith(".") else digits


class ByteStream(Protocol):
    """Where a Sink writes: a binary file, stdout's buffer."""

    def write(self, data: bytes, /) -> object: ...
    def flush(self) -> object: ...
    def close(self) -> object: ...


class Sink:
    """Text out as UTF-8 bytes to a stream; OS errors become one line naming the target.

    BrokenPipeError passes: the reader of stdout went away, which is no error (see main)."""

    def __init__(self, stream: ByteStream, target: str) -> None:
        self.stream, self.target = stream, target

    def write(self, text: str) -> None:
        self._do(self.stream.write, text.encode("utf-8"))

    def flush(self) -> None:
        self._do(self.stream.flush)

    def close(self) -> None:
        """Close the stream: its last buffered bytes are written here, and may fail here."""
        self._do(self.stream.close)

    def _do(self, action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise PipelineError(f"cannot write {self.target}: {err.strerror or err}") from None


class RecordWriter:
    """Output rows as CSV (the header first) or JSON lines, a chunk per write, flushed. Bound
    for a terminal, CSV cells show non-printable characters escaped (an id from the input
    could otherwise retitle the window or clear the screen); JSON strings escape them
    wherever they go (see json_string)."""

    def __init__(self, sink: Sink, fmt: str, id_column: str | None, terminal: bool = False) -> None:
        self.sink, self.fmt, self.id_column, self.terminal = sink, fmt, id_column, terminal
        self.rows_written = 0

    def write(self, outcomes: Sequence[Outcome]) -> None:
        lines = []
        if self.fmt == ".csv" and self.rows_written == 0:
            id_header = [csv_cell(self.id_column)] if self.id_column is not None else []
            lines.append(csv_line(id_header + list(RESULT_COLUMNS)))
        for n, outcome in enumerate(outcomes, self.rows_written + 1):
            probability = (
                None if outcome.probability is None else probability_text(outcome.probability, n)
            )
            lines.append(
                self.csv_record(outcome, probability)
                if self.fmt == ".csv"
                else self.json_record(outcome, probability)
            )
        self.sink.write("".join(lines))
        self.sink.flush()
        self.rows_written += len(outcomes)

    def csv_record(self, outcome: Outcome, probability: str | None) -> str:
        ident = [csv_cell(outcome.id)] if self.id_column is not None else []
        cells = ident + [csv_cell(outcome.label), probability or "", csv_cell(outcome.error)]
        return csv_line([one_line(cell) for cell in cells] if self.terminal else cells)

    def json_record(self, outcome: Outcome, probability: str | None) -> str:
        fields = [] if self.id_column is None else [(self.id_column, json_text(outcome.id))]
        fields += [
            ("label", json_text(outcome.label)),
            ("probability", probability or "null"),
            ("error", json_text(outcome.error)),
        ]
        return "{" + ", ".join(f"{json_string(key)}: {value}" for key, value in fields) + "}\n"


def open_binary(path: Path, mode: int | None = None) -> BinaryIO:
    """A new file at `path` to write, with permissions `mode` when given (else the umask's)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def file_sink(path: str) -> Iterator[Sink]:
    """A sink onto a temporary sibling of `path`, renamed onto it only if the block succeeds.

    Opened before any review is read, so an output that cannot be written (no such folder,
    no permission, a link, a pipe) fails before the work. An existing file survives any
    failure, a full disk or Ctrl-C included.
    """
    target = Path(path)
    if target.is_dir():
        raise PipelineError(f"--output {path} is a directory; give a file name")
    if not target.parent.is_dir():
        raise PipelineError(f"cannot write {path}: no such folder {target.parent}")
    if target.exists() and not target.is_file():
        raise PipelineError(
            f"--output {path} is not a regular file (a pipe, socket or "
            "device); refusing to replace it (to stream results, use stdout)"
        )
    with atomic_path(path) as tmp:
        try:  # a private (0600) file stays private when replaced
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
            stream = open_binary(tmp, mode)
        except OSError as err:
            raise PipelineError(f"cannot write {path}: {err.strerror or err}") from None
        sink = Sink(stream, path)
        try:
            yield sink
            sink.close()
        finally:
            with contextlib.suppress(OSError):
                stream.close()


@contextlib.contextmanager
def stdout_sink() -> Iterator[Sink]:
    """A sink onto stdout, as UTF-8 whatever the locale (CSV and JSON lines are UTF-8)."""
    if sys.stdout is None:  # started with stdout closed (see main.reopen_closed_streams)
        raise PipelineError("stdout is closed: pass --output FILE")
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a text-only stdout (an embedding program's): text goes through it
        yield Sink(_TextOnly(sys.stdout), "to stdout")
        return
    sys.stdout.flush()
    yield Sink(stream, "to stdout")


class _TextOnly:
    """A binary face for a text-only stream."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        """Left open: the stream belongs to the program that gave it."""
