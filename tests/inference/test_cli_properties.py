"""Properties of the command's readers and writers, over arbitrary text, ids and block splits.

For any input the command accepts: no row is lost or added, rows keep their order and their
ids exactly (JSON numbers as written, lone surrogates as U+FFFD), and the output parses back
with the standard csv and json modules. Input it refuses gets one escaped line and status 2.
The model is cli_fakes' stand-in, so each example takes milliseconds.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from decimal import Decimal

import pytest
from cli_fakes import csv_rows, fake_probability, fake_scorer, model_file, run_cli, set_stdin
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.inference.cli import readers, writers

CLI_RUNS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
UNIT = settings(max_examples=200, deadline=None)
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Any character UTF-8 can hold (no lone surrogates: they cannot be in a file)
storable = st.characters(blacklist_categories=("Cs",))
any_text = st.text(storable, max_size=40)
line_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40
).filter(lambda t: not t.endswith("\r"))


def strict_json(line: str):
    """The standard json module, refusing NaN and Infinity; numbers as Decimals."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse, parse_float=Decimal, parse_int=Decimal)


def expected_probability(text: str) -> str:
    return "" if not text.strip() else repr(round(fake_probability(text), 6))


def cli_stdin(capsys, monkeypatch, tmp_path, data: bytes, *args: str):
    set_stdin(monkeypatch, data)
    return run_cli(capsys, "predict", "--model", model_file(tmp_path), *args)


def assert_one_line_error(code, out: str, err: str) -> None:
    """Status 2, and stderr ends with one error line; before it at most warnings."""
    assert code == 2, err
    lines = err.split("\n")
    assert lines.pop() == "" and lines[-1].startswith("error: "), err
    assert all(line.startswith("warning: ") for line in lines[:-1]), err
    assert not RAW_CONTROL.search("".join(lines)), err


# --- text lines: stdin ---------------------------------------------------------------------


@CLI_RUNS
@given(
    lines=st.lists(line_text, min_size=1, max_size=30),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    json_out=st.booleans(),
)
def test_stdin_lines_become_rows_one_for_one(
    capsys, monkeypatch, tmp_path, lines, crlf, final_newline, json_out
):
    fake_scorer(monkeypatch)
    assume(not lines[0].startswith("\ufeff"))  # a byte-order mark, not text, at the start
    assume(final_newline or lines[-1] != "")
    end = "\r\n" if crlf else "\n"
    data = (end.join(lines) + (end if final_newline else "")).encode()
    code, out, err = cli_stdin(
        capsys, monkeypatch, tmp_path, data, *(["--json"] if json_out else [])
    )
    assert code == (1 if any(not t.strip() for t in lines) else 0), err
    if json_out:
        rows = [strict_json(line) for line in out.splitlines()]
        got = ["" if r["probability"] is None else repr(float(r["probability"])) for r in rows]
    else:
        got = [r["probability"] for r in csv_rows(out)]
    assert got == [expected_probability(t) for t in lines]


@CLI_RUNS
@given(
    text=st.text(storable, min_size=1, max_size=200),
    encoding=st.sampled_from(["utf-16", "utf-16-be", "utf-32", "utf-8-sig"]),
)
def test_byte_order_marked_input_reads_as_its_text(capsys, monkeypatch, tmp_path, text, encoding):
    fake_scorer(monkeypatch)
    lines = [line.rstrip("\r") for line in text.split("\n")]
    assume(all(line.strip() for line in lines))
    # UTF-16's little-endian mark and a NUL are UTF-32's mark: read as UTF-32, as is usual
    assume(not (encoding == "utf-16" and text.startswith("\x00")))
    data = "\n".join(lines).encode(encoding)
    if encoding.endswith("-be"):
        data = codecs.BOM_UTF16_BE + data
    code, out, _ = cli_stdin(capsys, monkeypatch, tmp_path, data)
    assert code == 0
    assert [r["probability"] for r in csv_rows(out)] == [expected_probability(t) for t in lines]


# --- CSV -------------------------------------------------------------------------------------


@CLI_RUNS
@given(
    records=st.lists(st.tuples(any_text, any_text, any_text), min_size=1, max_size=20),
    json_out=st.booleans(),
)
def test_csv_rows_keep_ids_exactly(capsys, monkeypatch, tmp_path, records, json_out):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    with open(source, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)  # "\r\n" ends records: fields with a lone \r get quoted
        writer.writerow(["id", "other", "text"])
        writer.writerows(records)
    code, out, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--input",
        str(source),
        *(["--json"] if json_out else []),
    )
    texts = [text for _, _, text in records]
    assert code == (1 if any(not t.strip() for t in texts) else 0), err
    if json_out:
        rows = [strict_json(line) for line in out.splitlines()]
        assert [r["id"] for r in rows] == [i for i, _, _ in records]
    else:
        rows = csv_rows(out)
        assert [r["id"] for r in rows] == [i for i, _, _ in records]
        assert [r["probability"] for r in rows] == [expected_probability(t) for t in texts]


@CLI_RUNS
@given(header=st.lists(any_text.filter(lambda c: c != "text"), min_size=1, max_size=8, unique=True))
def test_a_csv_header_without_the_text_column_is_one_escaped_line(
    capsys, monkeypatch, tmp_path, header
):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    with open(source, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([header, ["x"] * len(header)])
    assume(source.read_bytes().strip(b"\r\n"))  # a header of one empty name is a blank line
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert_one_line_error(code, out, err)
    assert out == ""


@CLI_RUNS
@given(
    rows=st.lists(any_text, max_size=5),
    tail=st.text(storable.filter(lambda c: c != '"'), max_size=30),
)
def test_a_quote_left_open_stops_after_the_rows_before_it(
    capsys, monkeypatch, tmp_path, rows, tail
):
    """Status 2 and one error line naming the line the open quote is on, after the rows before
    it (and their failures) were written."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    with open(source, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([["text"], *[[row] for row in rows]])
    quote_line = source.read_bytes().count(b"\n") + 1
    with open(source, "a", encoding="utf-8", newline="") as stream:
        stream.write('"' + tail)
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2, err
    *before, last, end = err.split("\n")
    assert end == "" and last.startswith("error: "), err
    assert f"field that starts at line {quote_line} is never closed" in last
    assert all(line.startswith(("warning: ", "row ")) for line in before), err
    assert not RAW_CONTROL.search(err)
    assert [r["probability"] for r in csv_rows(out)] == [expected_probability(t) for t in rows]


# --- JSON lines ------------------------------------------------------------------------------


def json_number() -> st.SearchStrategy[str]:
    """Numbers as JSON text, beyond what a float or Python's int conversion holds."""
    return st.one_of(
        st.integers().map(str),
        st.integers(min_value=10**30).map(lambda n: str(n) * 3),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(
            [
                "1e999",
                "-1e999",
                "1E400",
                "-0",
                "0.0",
                "2.5e-400",
                "0.1000000000000000055511151231257827",
            ]
        ),
    )


def json_value(strings: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Arbitrary JSON values, as text."""
    scalars = st.one_of(
        st.just("null"), st.just("true"), st.just("false"), json_number(), strings.map(json.dumps)
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
            st.dictionaries(strings.map(json.dumps), inner, max_size=4).map(
                lambda members: "{" + ", ".join(f"{k}: {v}" for k, v in members.items()) + "}"
            ),
        ),
        max_leaves=8,
    )


# lone surrogates allowed: JSON escapes ("\ud800") can hold them; they come out as U+FFFD
json_strings = st.text(max_size=20)
bad_json_lines = st.sampled_from(
    [
        '{"text": NaN}',
        '{"text": "a"',
        "[1, 2]",
        '"just text"',
        '{"text": Infinity}',
        '{"text": 5}',
        "{",
        '{"id": 1}',
    ]
)


def without_surrogates(value):
    if isinstance(value, str):
        return re.sub("[\ud800-\udfff]", "\ufffd", value)
    if isinstance(value, list):
        return [without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    return value


@CLI_RUNS
@given(
    records=st.lists(st.tuples(json_value(json_strings), json_strings), min_size=1, max_size=12),
    bad=st.lists(st.tuples(st.integers(1, 12), bad_json_lines), max_size=3),
    json_out=st.booleans(),
)
def test_jsonl_ids_come_out_as_they_went_in(capsys, monkeypatch, tmp_path, records, bad, json_out):
    fake_scorer(monkeypatch)
    lines = [f'{{"id": {ident}, "text": {json.dumps(text)}}}' for ident, text in records]
    for at, line in sorted(bad, reverse=True):
        lines.insert(min(at, len(lines)), line)  # never first: the first names the columns
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--input",
        str(source),
        *(["--json"] if json_out else []),
    )
    assert code in (0, 1), err
    wanted = []
    for line in lines:
        try:
            record = strict_json(line)
        except (ValueError, RecursionError):
            record = None
        ok = isinstance(record, dict) and isinstance(record.get("text"), str)
        ident = record.get("id") if isinstance(record, dict) else None
        wanted.append((without_surrogates(ident), ok))
    if json_out:
        rows = [strict_json(line) for line in out.splitlines()]
        assert [r["id"] for r in rows] == [ident for ident, _ in wanted]
    else:
        rows = csv_rows(out)
        assert len(rows) == len(wanted)
        for row, (ident, _) in zip(rows, wanted, strict=True):
            cell = row["id"]
            if isinstance(ident, str):
                assert cell == ident
            else:  # numbers, objects, lists, booleans and null as JSON text
                assert (strict_json(cell) if cell else None) == ident
    scored = [
        ok and bool(strict_json(line)["text"].strip())
        for line, (_, ok) in zip(lines, wanted, strict=True)
    ]
    assert [r["error"] in (None, "") for r in rows] == scored


@CLI_RUNS
@given(
    first=bad_json_lines.filter(
        lambda line: (
            "text" not in line
            or "NaN" in line
            or "Infinity" in line
            or line.startswith(("[", '"', '{"'))
        )
    )
)
def test_a_first_jsonl_line_that_names_no_columns_is_one_line(capsys, monkeypatch, tmp_path, first):
    fake_scorer(monkeypatch)
    assume(first not in ('{"text": 5}',))  # has the text key: a row that fails alone
    source = tmp_path / "in.jsonl"
    source.write_text(first + '\n{"text": "good"}\n', encoding="utf-8")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert_one_line_error(code, out, err)


# --- the writers and the line reader alone -------------------------------------------------


@UNIT
@given(value=json_value(json_strings))
def test_json_text_parses_back_to_the_value(value):
    written = writers.json_text(readers.load_json_line(value))
    assert strict_json(written) == without_surrogates(strict_json(value))
    assert len(written.splitlines()) == 1


@UNIT
@given(cells=st.lists(any_text, min_size=1, max_size=6))
def test_csv_lines_parse_back_to_their_cells(cells):
    assume(cells != [""])  # one empty cell is a blank line; rows always have 3+ cells
    line = writers.csv_line(cells)
    assert list(csv.reader(io.StringIO(line, newline=""), strict=True)) == [cells]


@UNIT
@given(p=st.floats())
def test_only_probabilities_are_written(p):
    if 0.0 <= p <= 1.0:
        assert abs(float(writers.probability_text(p, 1)) - p) <= 5e-7
    else:
        with pytest.raises(PipelineError, match="the model is broken"):
            writers.probability_text(p, 1)


@UNIT
@given(p=st.floats(min_value=0.0, max_value=1.0))
def test_probabilities_are_written_in_fixed_point(p):
    """The value rounded to 6 decimals, never with an exponent; from 1e-4 up exactly what
    repr(round(p, 6)) writes (the evaluate stage's predictions.csv, the earlier output)."""
    text = writers.probability_text(p, 1)
    assert re.fullmatch(r"[01]\.\d{1,6}", text), text
    assert float(text) == round(p, 6)
    if round(p, 6) >= 1e-4:
        assert text == repr(round(p, 6))


class Trickle:
    """A stream that hands out its bytes in the given block sizes (as a pipe may)."""

    def __init__(self, data: bytes, sizes: list[int]):
        self.data, self.sizes = data, sizes or [1]

    def fileno(self) -> int:
        raise io.UnsupportedOperation

    def read1(self, size: int) -> bytes:
        block, self.data = self.data[: self.sizes[0]], self.data[self.sizes[0] :]
        self.sizes = self.sizes[1:] + self.sizes[:1]
        return block


@UNIT
@given(
    text=st.text(storable, max_size=300),
    sizes=st.lists(st.integers(1, 9), max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
    limit=st.integers(1, 40),
)
def test_lines_survive_any_block_split_and_the_bound_holds(text, sizes, encoding, limit):
    # UTF-16's mark and a first NUL character are the bytes of UTF-32's mark (FF FE 00 00)
    assume(not (encoding == "utf-16" and text.startswith("\x00")))
    reader = readers.LineReader(
        readers.ByteSource(Trickle(text.encode(encoding), sizes), "test"), limit=limit
    )
    expected = text.encode("utf-8")
    if encoding == "utf-8" and expected.startswith(codecs.BOM_UTF8):
        expected = expected[len(codecs.BOM_UTF8) :]  # taken for a byte-order mark
    too_long = any(len(line.rstrip(b"\r")) > limit for line in expected.split(b"\n"))
    lines = []
    try:
        while (line := reader.readline()) is not None:
            lines.append(line)
    except PipelineError as err:
        assert too_long and "is longer than" in str(err)
        return
    assert not too_long
    assert b"".join(lines) == expected
    assert all(line.endswith(b"\n") for line in lines[:-1])


@UNIT
@given(
    text=st.text(storable, max_size=100),
    sizes=st.lists(st.integers(1, 9), max_size=6),
    encoding=st.sampled_from(["utf-16", "utf-32"]),
    damage=st.sampled_from([b"", b"x", b"xy", b"\x00\xd8", b"\x00\xdc\x00"]),
    at=st.integers(0, 200),
)
def test_damaged_utf16_or_utf32_is_replaced_with_one_warning(text, sizes, encoding, damage, at):
    """As for UTF-8: what does not decode is U+FFFD, and says so once, whatever the split."""
    # UTF-16's mark and a first NUL character are the bytes of UTF-32's mark (FF FE 00 00)
    assume(not (encoding == "utf-16" and text.startswith("\x00")))
    data = text.encode(encoding)  # with its byte-order mark
    width = 2 if encoding == "utf-16" else 4
    cut = width + min(at, len(data) - width) // width * width  # between two code units
    data = data[:cut] + damage + data[cut:]
    reader = readers.LineReader(readers.ByteSource(Trickle(data, sizes), "test"))
    lines = []
    while (line := reader.readline()) is not None:
        lines.append(line)
    assert b"".join(lines).decode("utf-8") == data.decode(encoding, errors="replace")
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        assert reader.warned == {encoding.upper()}
    else:
        assert reader.warned == set()


def test_damaged_utf16_names_the_line_of_its_first_bad_byte(capsys, tmp_path, monkeypatch):
    """An odd byte at the end once became a review of U+FFFD, without a word."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.txt"
    source.write_bytes("good film\nbad plot\n".encode("utf-16") + b"x")
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), "-i", str(source))
    assert len(csv_rows(out)) == 3
    assert err.splitlines()[0] == (
        f"warning: {source} is not valid UTF-16 (first bad byte in line 3); undecodable "
        "bytes replaced with U+FFFD"
    )
