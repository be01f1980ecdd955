"""Reading reviews as they arrive: bounded lines, then rows of a .txt, .csv or .jsonl input.

Nothing here holds more than one line (or one CSV record) beyond a block of input: a line
longer than MAX_RECORD_BYTES stops the run as soon as it passes the bound, so an endless
line (`yes | tr -d '\\n'`) or an endless quoted CSV field is refused, not read whole.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import select
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any, cast

from imdb_sentiment.core.artifacts import unique_keys
from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.inference.cli.terminal import listed, quoted, say

# One line, CSV record or JSON line at most: far above any review (IMDb's longest is ~14 kB),
# and what one review may cost in memory.
MAX_RECORD_BYTES = 4 * 2**20
BLOCK_BYTES = 2**16
INPUT_FORMATS = (".txt", ".csv", ".jsonl")
# Byte-order marks, UTF-32's first: its little-endian mark begins with UTF-16's
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Row:
    """One input review: its text and id, or why it could not be read."""

    text: str | None
    id: Any = None
    error: str | None = None


@dataclass(frozen=True)
class JsonNumber:
    """A JSON number as written in the input. Kept as text, so an id such as 1e999 (infinity
    as a Python float) or a 5,000-digit integer is written back exactly, never as Infinity.
    Not a str, so it is never taken for a review's text."""

    text: str

    def __str__(self) -> str:
        return self.text


def open_binary(path: str) -> io.BufferedReader:
    """The file at `path` to read (ByteSource reads its descriptor, past the buffer)."""
    return open(path, "rb")


class ByteSource:
    """Blocks of an input's bytes, as they arrive.

    A real descriptor is read with os.read, so no bytes wait in a buffer where `ready` could
    not see them; any other stream (a test's BytesIO) with read1, and counts as always ready.
    """

    def __init__(self, stream: io.BufferedIOBase, name: str) -> None:
        self.stream, self.name = stream, name
        self.fd = descriptor(stream)
        regular = self.fd is not None and stat.S_ISREG(os.fstat(self.fd).st_mode)
        self.size = os.fstat(self.fd).st_size if regular and self.fd is not None else None
        self.consumed = 0

    def read(self) -> bytes:
        """The next block (b"" at the end); a failing read is a one-line error."""
        try:
            if self.fd is not None:
                block = os.read(self.fd, BLOCK_BYTES)
            else:
                block = self.stream.read1(BLOCK_BYTES)
        except OSError as err:
            raise PipelineError(f"cannot read {self.name}: {err.strerror or err}") from None
        self.consumed += len(block)
        return block

    def ready(self, wait: float = 0.0) -> bool:
        """Whether a read would return within `wait` seconds: always for files, for pipes and
        terminals only when something arrives."""
        if self.fd is None or self.size is not None:
            return True
        try:
            return bool(select.select([self.fd], [], [], wait)[0])
        except (OSError, ValueError):  # a descriptor select cannot watch
            return True


class LineReader:
    """Lines of an input, as UTF-8 bytes with their line ends, none over `limit` bytes.

    Input that starts with a UTF-16 or UTF-32 byte-order mark (what Windows tools save as
    "Unicode text") is decoded and handed on as UTF-8; a UTF-8 mark is dropped.
    """

    def __init__(self, source: ByteSource, limit: int = MAX_RECORD_BYTES) -> None:
        self.source, self.name, self.limit = source, source.name, limit
        self.buffer = bytearray()
        self.searched = 0  # the buffer holds no line end before this offset
        self.line_number = 0  # of the last line returned
        self.started = self.eof = False
        self.decoder: codecs.IncrementalDecoder | None = None
        self.encoding = "UTF-8"
        self.warned: set[str] = set()

    def _fill(self) -> None:
        """Append the next block, as UTF-8, to the buffer; mark the end of input."""
        block = self.source.read()
        self.eof = not block
        if not self.started:
            self.started = True
            block = self._after_mark(block)
        if self.decoder is not None:
            block = self._decoded(self.decoder, block).encode("utf-8", "replace")
        self.buffer += block

    def _after_mark(self, block: bytes) -> bytes:
        """The input's first block less its byte-order mark; a UTF-16 or UTF-32 mark sets
        the decoder."""
        while (
            not self.eof
            and len(block) < 4
            and any(
                len(mark) > len(block) and mark.startswith(block) for mark, _ in BYTE_ORDER_MARKS
            )
        ):
            more = self.source.read()  # a mark split across reads (rare): wait for the rest
            self.eof = not more
            block += more
        for mark, encoding in BYTE_ORDER_MARKS:
            if block.startswith(mark):
                if encoding == "utf-8":
                    return block[len(mark) :]
                self.decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
                self.encoding = encoding.upper()
                break
        return block

    def _decoded(self, decoder: codecs.IncrementalDecoder, block: bytes) -> str:
        """A UTF-16 or UTF-32 block as text; bytes that do not decode (an odd byte at the end,
        a lone surrogate) are replaced, with one warning, as for UTF-8 in `decode`."""
        try:
            return decoder.decode(block, final=self.eof)
        except UnicodeDecodeError as err:
            # the failed call changed nothing: decode the good bytes before the error, then
            # the rest with replacement. The error's offsets count the bytes the decoder held
            # back from the last block (part of a character) before this block's.
            cut = max(0, err.start - (len(err.object) - len(block)))
            good = decoder.decode(block[:cut])
            decoder.errors = "replace"
            try:
                rest = decoder.decode(block[cut:], final=self.eof)
            finally:
                decoder.errors = "strict"
        line = self.line_number + self.buffer.count(b"\n") + good.count("\n") + 1
        self.warn_once(
            self.encoding,
            f"warning: {self.name} is not valid {self.encoding} (first bad byte in line "
            f"{line}); undecodable bytes replaced with U+FFFD",
        )
        return good + rest

    def readline(self) -> bytes | None:
        """The next line with its line end (none on a last line without one); None at the end."""
        while True:
            end = self.buffer.find(b"\n", self.searched)
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                break
            self.searched = len(self.buffer)
            if self.searched > self.limit + 1:  # + 1: room for a "\r" before the "\n"
                self.too_long(self.line_number + 1)
            if self.eof:
                if not self.buffer:
                    return None
                line = bytes(self.buffer)
                self.buffer.clear()
                break
            self._fill()
        self.searched = 0
        self.line_number += 1
        if len(line) - len(line_end(line)) > self.limit:
            self.too_long(self.line_number)
        return line

    def ready(self, wait: float = 0.0) -> bool:
        """Whether more input is at hand, or comes within `wait` seconds."""
        return self.eof or self.buffer.find(b"\n") >= 0 or self.source.ready(wait)

    def too_long(self, line_number: int, what: str = "line") -> None:
        raise PipelineError(
            f"{self.name}: {what} {line_number} is longer than {self.limit:,} "
            "bytes, the limit for one review (is it text, one review per line?)"
        )

    def decode(self, raw: bytes) -> str:
        """A line as text; bytes that are not UTF-8 are replaced, with one warning."""
        if b"\0" in raw:
            self.warn_once(
                "nul",
                f"warning: {self.name} has NUL bytes (line {self.line_number}"
                "): is it UTF-16 without its byte-order mark, or not text at all?",
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.warn_once(
                "utf-8",
                f"warning: {self.name} is not valid UTF-8 (first bad byte "
                f"in line {self.line_number}); undecodable bytes replaced with U+FFFD",
            )
            return raw.decode("utf-8", errors="replace")

    def warn_once(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            say(message)


def descriptor(stream: io.BufferedIOBase) -> int | None:
    """The stream's file descriptor, or None when it has none (an in-memory stream)."""
    try:
        fd = stream.fileno()
        os.fstat(fd)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return fd


def line_end(line: bytes) -> bytes:
    """The end of a line: b"\\r\\n" or b"\\n"; on a last line without one, b"\\r" or b""."""
    for end in (b"\r\n", b"\n", b"\r"):
        if line.endswith(end):
            return end
    return b""


@dataclass
class Reader:
    """The rows of one input, read as they are asked for."""

    rows: Iterator[Row]
    id_column: str | None = None
    lines: LineReader | None = None  # None: the rows are already in memory (arguments)

    def ready(self, wait: float = 0.0) -> bool:
        """Whether more input is at hand, or comes within `wait` seconds."""
        return self.lines is None or self.lines.ready(wait)

    @property
    def consumed(self) -> int:
        """Bytes read so far."""
        return 0 if self.lines is None else self.lines.source.consumed


def text_rows(lines: LineReader) -> Iterator[Row]:
    """One review per line; a carriage return that ends no line stays in its review, with a
    warning (old Mac line ends)."""
    while (raw := lines.readline()) is not None:
        text = lines.decode(raw[: len(raw) - len(line_end(raw))])
        if "\r" in text:
            lines.warn_once(
                "cr",
                f"warning: {lines.name} has carriage returns (\\r) that end "
                "no line; lines are split at \\n only, so they stay inside their "
                "review",
            )
        yield Row(text)


def resolve_id_column(columns: Iterable[str], id_column: str | None, source: str) -> str | None:
    """The id column to carry: the one asked for (must exist), else 'id' when present."""
    columns = list(columns)
    if id_column is None:
        return "id" if "id" in columns else None
    if id_column not in columns:
        raise PipelineError(
            f"{source}: no id column {quoted(id_column)} (columns: {listed(columns)})"
        )
    return id_column


def require_column(columns: Iterable[str], name: str, source: str) -> None:
    columns = list(columns)
    if name not in columns:
        raise PipelineError(
            f"{source}: no text column {quoted(name)} (columns: "
            f"{listed(columns)}); choose one with --text-column"
        )


@contextlib.contextmanager
def csv_field_limit(limit: int) -> Iterator[None]:
    """csv's field size limit (process-wide) set for a block: reviews pass its 128 KiB
    default, and a field never grows past a record's bound."""
    before = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(before)


class CsvLines:
    """Lines for csv.reader, as text, counting the bytes of the record being read: a quote
    left open over endless lines stops at the record bound too. The record's lines are kept
    (within that bound), to read again when csv.reader fails on them."""

    def __init__(self, lines: LineReader) -> None:
        self.lines = lines
        self.record_bytes = 0
        self.record_start = 1
        self.record_lines: list[str] = []
        self.ended = False

    def __iter__(self) -> CsvLines:
        return self

    def __next__(self) -> str:
        raw = self.lines.readline()
        if raw is None:
            self.ended = True
            raise StopIteration
        self.record_bytes += len(raw)
        if self.record_bytes > self.lines.limit:
            self.lines.too_long(self.record_start, "the CSV record starting at line")
        line = self.lines.decode(raw)
        self.record_lines.append(line)
        return line

    def next_record(self) -> None:
        self.record_bytes, self.record_start = 0, self.lines.line_number + 1
        self.record_lines = []

    def lenient_fields(self) -> list[str] | None:
        """The failed record's fields as a lenient csv.reader (strict=False, as pandas and
        spreadsheets read) reads them, when the record plainly ends with the line the strict
        reader failed on: the lenient reading ends it there too, and its quotes pair up.
        Otherwise None: a quote may have been meant to run on into the next line
        (`"she said "hi" and` + newline + `left"`), and no reading can be sure where the
        next record starts."""
        if sum(line.count('"') for line in self.record_lines) % 2:
            return None
        lenient = csv.reader(chain(self.record_lines, ["\n"]))
        try:
            fields = next(lenient, None)
        except csv.Error:  # one no reading gets past (a carriage return in an unquoted field)
            return None
        return fields if lenient.line_num == len(self.record_lines) else None

    def open_quote_line(self) -> int:
        """The line where the quoted field left open to the end of the input starts. Up to the
        end, the lenient reading is the strict one, and it makes the open field the record's
        last, holding every line end after its opening quote."""
        try:
            fields = next(csv.reader(self.record_lines), None) or [""]
        except csv.Error:
            return self.record_start
        after_quote = fields[-1].count("\n")
        ends_in_newline = bool(self.record_lines) and self.record_lines[-1].endswith("\n")
        lines_read = len(self.record_lines)
        return self.record_start + lines_read - after_quote - (0 if ends_in_newline else 1)


def csv_problem(err: csv.Error) -> str:
    """csv's complaint in this command's terms (its hint about universal-newline mode is for
    Python programmers)."""
    if "new-line character seen in unquoted field" in str(err):
        return (
            "a carriage return (\\r) inside an unquoted field: lines must end in \\n or "
            "\\r\\n (old Mac line ends are not read), and a field with a line break "
            "must be quoted"
        )
    if "expected after '\"'" in str(err):
        return (
            "text after the quote that closes a quoted field (a field holding quotes "
            "must be quoted whole, each quote inside doubled)"
        )
    return str(err)


def csv_reader(lines: LineReader, text_column: str, id_column: str | None) -> Reader:
    """Rows of a CSV input with a header; the text column must exist, once.

    Strict: a quote left open at the end is an error, not a review that swallows the rest.
    A row whose field count differs from the header's fails alone (a comma in an unquoted
    review would otherwise cut it short without a word), and so does a row with a stray
    quote (`2,"Great" film`) when the record plainly ends with its line; where it may not,
    no reading can tell where the next record starts, and the run stops. Blank lines are
    skipped.
    """
    source = lines.name
    records = CsvLines(lines)
    reader = csv.reader(records, strict=True)

    def next_record() -> tuple[list[str] | None, str | None]:
        """The next record (None at the end), and what is wrong with it when the strict
        reader refused it but it can fail alone: its fields are then the lenient reading's."""
        records.next_record()
        try:
            return next(reader, None), None
        except csv.Error as err:
            if records.ended:
                raise PipelineError(
                    f"{source}: the quoted CSV field that starts at line "
                    f"{records.open_quote_line()} is never closed (each quote inside a "
                    "quoted field must be doubled)"
                ) from None
            fields = records.lenient_fields()
            if fields is None:
                raise PipelineError(
                    f"{source}: bad CSV near line {reader.line_num}: {csv_problem(err)}"
                ) from None
            return fields, csv_problem(err)

    header, problem = next_record()
    if problem is not None:
        raise PipelineError(f"{source}: bad CSV header (line {reader.line_num}): {problem}")
    if not header:
        raise PipelineError(f"{source}: empty CSV file (no header row)")
    require_column(header, text_column, source)
    id_name = resolve_id_column(header, id_column, source)
    for name in [text_column] + ([id_name] if id_name is not None else []):
        if header.count(name) > 1:
            raise PipelineError(
                f"{source}: the header has {header.count(name)} columns named "
                f"{quoted(name)}; which one to read is ambiguous"
            )
    text_at = header.index(text_column)
    # `is not None`: pandas' to_csv names its index column "", an id like any other
    id_at = header.index(id_name) if id_name is not None else None

    def rows() -> Iterator[Row]:
        while True:
            record, problem = next_record()
            if record is None:
                return
            if not record:
                continue  # a blank line, as csv.DictReader skips it
            ident = record[id_at] if id_at is not None and id_at < len(record) else None
            if problem is not None:
                yield Row(None, ident, error=f"CSV line {reader.line_num}: {problem}")
            elif len(record) != len(header):
                yield Row(
                    None,
                    ident,
                    error=f"CSV line {reader.line_num} has {len(record)} "
                    f"fields, the header {len(header)} (quote fields that hold commas)",
                )
            else:
                yield Row(record[text_at], ident)

    return Reader(rows(), id_name, lines)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json_line(line: str) -> Any:
    """json.loads, strict (NaN and Infinity, which Python accepts, are not JSON; nor is an
    object naming a key twice), with numbers kept as written (JsonNumber)."""
    return json.loads(
        line,
        parse_constant=_no_constant,
        parse_int=JsonNumber,
        parse_float=JsonNumber,
        object_pairs_hook=unique_keys,
    )


def parse_json_record(line: str) -> tuple[Any, str | None]:
    """(record, None), or (None, why the line is not JSON, with the column where it fails)."""
    try:
        return load_json_line(line), None
    except json.JSONDecodeError as err:
        # json's own "line 1 column N" counts lines inside this one line; the caller names
        # the line of the file
        return None, f"invalid JSON: {err.msg.removesuffix(' at')} at column {err.pos + 1}"
    except (ValueError, RecursionError) as err:  # NaN, deep nesting
        # whole: these messages are the code's own (a constant's name, the recursion limit),
        # never a piece of the input, so they are short
        return None, f"invalid JSON: {type(err).__name__}: {err}"


def jsonl_row(line: str, text_column: str, id_name: str | None) -> Row:
    """One JSON-lines record as a Row; problems become the row's error, not an exception."""
    record, error = parse_json_record(line)
    if error is not None:
        return Row(None, error=error)
    if not isinstance(record, dict):
        return Row(None, error="not a JSON object")
    ident = record.get(id_name) if id_name is not None else None
    if text_column not in record:
        return Row(None, ident, error=f"no {text_column!r} key")
    value = record[text_column]
    if not isinstance(value, str):
        return Row(None, ident, error=f"{text_column!r} is not a string")
    return Row(value, ident)


def jsonl_reader(lines: LineReader, text_column: str, id_column: str | None) -> Reader:
    """Rows of a JSON-lines input (blank lines skipped).

    Rows stream, so the first record names the columns: it must be an object with the text
    key (and the --id-column, if given; else 'id' is carried when it has one). A later line
    that is not such an object fails alone.
    """
    source = lines.name
    numbered = ((lines.line_number, lines.decode(raw)) for raw in iter(lines.readline, None))
    nonblank = ((number, line) for number, line in numbered if line.strip())
    first = next(nonblank, None)
    if first is None:
        return Reader(iter(()), None, lines)
    first_number, first_line = first
    record, error = parse_json_record(first_line)
    if error is not None:
        raise PipelineError(f"{source}: line {first_number}: {error}")
    if not isinstance(record, dict):
        raise PipelineError(
            f"{source}: line {first_number} is not a JSON object (a "
            ".jsonl file holds one object per line)"
        )
    require_column(record, text_column, source)
    id_name = resolve_id_column(record, id_column, source)
    rows = (
        located(jsonl_row(line, text_column, id_name), number)
        for number, line in chain([first], nonblank)
    )
    return Reader(rows, id_name, lines)


def located(row: Row, line_number: int) -> Row:
    """A JSON-lines row whose error names its line in the file, as a CSV row's does: blank
    lines are skipped, so the output row's number is not the line's."""
    if row.error is None:
        return row
    return replace(row, error=f"JSON line {line_number}: {row.error}")


def input_format(path: str) -> str:
    """The format of an --input file, from its suffix."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in INPUT_FORMATS:
        raise PipelineError(
            f"{path}: unknown input format {suffix or '(none)'!r}; "
            f"use one of {', '.join(INPUT_FORMATS)}"
        )
    return suffix


@contextlib.contextmanager
def open_source(path: str | None) -> Iterator[ByteSource]:
    """The bytes of --input `path`, or of stdin (None or "-")."""
    if path is None or path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise PipelineError("no reviews given and no stdin to read them from")
        if sys.stdin.isatty():
            say("reading reviews from stdin, one per line (Ctrl-D to finish)")
        yield ByteSource(cast(io.BufferedIOBase, stream), "stdin")
        return
    try:
        stream = open_binary(path)
    except OSError as err:
        raise PipelineError(f"cannot read {path}: {err.strerror or err}") from None
    with stream:
        yield ByteSource(stream, path)


def argument_rows(reviews: list[str]) -> Reader:
    """Reviews given as arguments; bytes the OS could not decode are replaced, not fatal."""
    texts = [os.fsencode(review).decode("utf-8", errors="replace") for review in reviews]
    if texts != reviews:  # the OS handed Python bytes it could not decode
        say("warning: an argument is not valid UTF-8; undecodable bytes replaced with U+FFFD")
    return Reader(iter([Row(text) for text in texts]))


@contextlib.contextmanager
def open_reader(
    path: str | None, reviews: list[str], text_column: str | None, id_column: str | None
) -> Iterator[Reader]:
    """The rows to classify: from the arguments, the --input file, or stdin."""
    if reviews:
        yield argument_rows(reviews)
        return
    suffix = ".txt" if path in (None, "-") else input_format(path)
    with open_source(path) as source, csv_field_limit(MAX_RECORD_BYTES):
        lines = LineReader(source)
        text_column = "text" if text_column is None else text_column
        if suffix == ".csv":
            yield csv_reader(lines, text_column, id_column)
        elif suffix == ".jsonl":
            yield jsonl_reader(lines, text_column, id_column)
        else:
            yield Reader(text_rows(lines), None, lines)
