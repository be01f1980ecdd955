"""The command streams: rows are read, scored and written a chunk at a time, with bounded memory.

The model is the stand-in of cli_fakes (no TensorFlow), so real processes on real pipes
start in a second; reading, chunking and writing are the command's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cli_fakes import (
    csv_rows,
    fake_command,
    fake_probability,
    fake_scorer,
    model_file,
    run_cli,
    set_stdin,
)

DEADLINE = 60  # seconds; every wait below ends long before on a working command


def record_limit() -> int:
    from imdb_sentiment.inference.cli import readers

    return readers.MAX_RECORD_BYTES


class Running:
    """A command on pipes: its stdout lines collected by a thread as they arrive."""

    def __init__(self, argv: list[str], **kwargs):
        self.process = subprocess.Popen(
            argv,
            stdin=kwargs.pop("stdin", subprocess.PIPE),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **kwargs,
        )
        self.lines: list[bytes] = []
        self.reader = threading.Thread(target=self._collect, daemon=True)
        self.reader.start()

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_lines(self, count: int) -> None:
        """Until `count` lines have come (fails at the deadline or if the command ended)."""
        deadline = time.monotonic() + DEADLINE
        while len(self.lines) < count:
            assert self.process.poll() is None or self.reader.is_alive(), (
                f"the command ended with {len(self.lines)} lines: {self.stderr()}"
            )
            assert time.monotonic() < deadline, f"only {len(self.lines)} of {count} lines came"
            time.sleep(0.02)

    def send(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str]:
        """Close stdin; (exit status, stderr)."""
        if self.process.stdin:
            self.process.stdin.close()
        code = self.process.wait(timeout=DEADLINE)
        self.reader.join(timeout=DEADLINE)
        return code, self.stderr()

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def endless(write, block: bytes, stop: threading.Event) -> int:
    """Write `block` until the reader goes away or `stop` is set; bytes written."""
    written = 0
    try:
        while not stop.is_set():
            write(block)
            written += len(block)
    except (BrokenPipeError, OSError, ValueError):
        pass
    return written


def test_rows_are_written_while_stdin_is_still_open(tmp_path):
    running = Running(fake_command("predict", "--model", model_file(tmp_path)))
    try:
        running.send(b"a good film\nan awful film\n")
        running.wait_for_lines(3)  # the header and two rows, before stdin ends
        running.send(b"third\n")
        running.wait_for_lines(4)
        code, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    rows = csv_rows(b"".join(running.lines).decode())
    assert [float(r["probability"]) for r in rows] == [
        fake_probability(t) for t in ("a good film", "an awful film", "third")
    ]


def test_a_trickle_is_answered_within_a_chunk_time(tmp_path):
    """A line every 20 ms never pauses 50 ms, yet rows come out within seconds (not after
    1,000 rows, 20 s): a chunk waits at most CHUNK_SECONDS for more."""
    running = Running(fake_command("predict", "--model", model_file(tmp_path)))
    try:
        sent_at = time.monotonic()
        while time.monotonic() - sent_at < 3 and len(running.lines) < 2:
            running.send(b"a good film\n")
            time.sleep(0.02)
        assert len(running.lines) >= 2, "no row came while the input trickled"
        code, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err


def test_endless_stdin_keeps_printing_rows(tmp_path):
    running = Running(fake_command("predict", "--json", "--model", model_file(tmp_path)))
    stop = threading.Event()
    feeder = threading.Thread(
        target=endless, args=(running.send, b"a good film\n" * 1000, stop), daemon=True
    )
    feeder.start()
    try:
        running.wait_for_lines(5_000)
        seen = len(running.lines)
        running.wait_for_lines(seen + 20_000)  # still coming
    finally:
        stop.set()
        running.kill()
    assert json.loads(running.lines[0])["probability"] == fake_probability("a good film")


@pytest.mark.parametrize(
    ("suffix", "head", "block"),
    [
        (".txt", b"", b"y" * 65536),  # `yes | tr -d '\n'`
        (".jsonl", b'{"text": "', b"y" * 65536),  # one endless JSON line
        (".csv", b'text\n"', b"y\n" * 32768),  # a quoted field of endless lines
        (".csv", b"", b"c," * 32768),  # an endless header
    ],
    ids=["txt line", "jsonl line", "csv field", "csv header"],
)
def test_an_endless_record_is_refused_once_past_the_bound(tmp_path, suffix, head, block):
    """A FIFO as --input: the command reads as it comes, and stops at the bound."""
    source = tmp_path / f"endless{suffix}"
    os.mkfifo(source)
    running = Running(
        fake_command("predict", "--model", model_file(tmp_path), "--input", str(source)),
        stdin=subprocess.DEVNULL,
    )
    stop = threading.Event()
    written = []

    def feed() -> None:
        with open(source, "wb", buffering=0) as fifo:
            fifo.write(head)
            written.append(endless(fifo.write, block, stop))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        code = running.process.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail("the command kept reading an endless record")
    finally:
        stop.set()
        running.kill()
        feeder.join(timeout=DEADLINE)
    err = running.stderr()
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "longer than" in err and "Traceback" not in err
    assert written[0] < 3 * record_limit()  # it stopped soon after the bound


def test_an_endless_line_on_stdin_is_refused(tmp_path):
    running = Running(fake_command("predict", "--model", model_file(tmp_path)))
    stop = threading.Event()
    feeder = threading.Thread(target=endless, args=(running.send, b"y" * 65536, stop), daemon=True)
    feeder.start()
    try:
        code = running.process.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail("the command kept reading an endless line")
    finally:
        stop.set()
        running.kill()
    err = running.stderr()
    assert code == 2 and err.count("\n") == 1 and "stdin: line 1 is longer than" in err, err


def test_chunks_are_bounded_and_rows_stay_in_order(capsys, monkeypatch, tmp_path):
    calls: list[list[str]] = []
    fake_scorer(monkeypatch, calls=calls)
    texts = [f"review number {n} " + "x" * (n % 7) for n in range(2_500)]
    set_stdin(monkeypatch, ("\n".join(texts) + "\n").encode())
    code, out, _ = run_cli(capsys, "predict", "--model", model_file(tmp_path))
    assert code == 0
    assert [len(call) for call in calls] == [1000, 1000, 500]
    assert [float(r["probability"]) for r in csv_rows(out)] == [fake_probability(t) for t in texts]


def test_ids_count_toward_a_chunks_characters(capsys, monkeypatch, tmp_path):
    """Rows of short texts with 1 MiB ids: a chunk holds CHUNK_CHARS of them, not CHUNK_ROWS
    (400 rows of 3 MiB ids once took the command to 2.97 GB)."""
    from imdb_sentiment.inference.cli.command import CHUNK_CHARS

    calls: list[list[str]] = []
    fake_scorer(monkeypatch, calls=calls)
    source = tmp_path / "in.jsonl"
    ident = "i" * 2**20
    rows = 2 * CHUNK_CHARS // len(ident) + 4
    with open(source, "w", encoding="utf-8") as stream:
        for n in range(rows):
            stream.write(json.dumps({"text": f"good film {n}", "id": ident + str(n)}) + "\n")
    args = ["--model", model_file(tmp_path), "-i", str(source), "--json"]
    code, out, _ = run_cli(capsys, "predict", *args)
    assert code == 0 and len(out.splitlines()) == rows
    assert sum(len(call) for call in calls) == rows
    assert max(len(call) for call in calls) <= CHUNK_CHARS // len(ident)


def test_failures_are_counted_across_chunks(capsys, monkeypatch, tmp_path):
    fake_scorer(monkeypatch)
    lines = ["good"] * 2_500
    lines[4] = lines[1_499] = ""
    set_stdin(monkeypatch, ("\n".join(lines) + "\n").encode())
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path))
    assert code == 1 and len(csv_rows(out)) == 2_500
    assert "row 5: empty review" in err and "row 1500: empty review" in err
    assert "2 of 2500 reviews failed" in err


def test_a_bad_record_after_written_chunks_keeps_the_old_output(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.txt"
    with open(source, "wb") as stream:
        stream.write(b"good film\n" * 3_000)
        stream.write(b"y" * (record_limit() + 10) + b"\n")
    target = tmp_path / "scored.csv"
    target.write_text("old results\n")
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--input",
        str(source),
        "--output",
        str(target),
    )
    assert code == 2 and "line 3001 is longer than" in err
    assert target.read_text() == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.keras", "in.txt", "scored.csv"]


def test_rows_before_a_record_over_the_bound_are_written_to_stdout(capsys, tmp_path, monkeypatch):
    """They are in the chunk the bad record stops: written before the run stops, as the help
    says ("rows already on stdout stay")."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.txt"
    with open(source, "wb") as stream:
        stream.write(b"good film\nbad film\n\n")
        stream.write(b"y" * (record_limit() + 10) + b"\n")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2
    assert [r["probability"] for r in csv_rows(out)] == [
        str(fake_probability("good film")),
        str(fake_probability("bad film")),
        "",
    ]
    assert err.startswith("row 3: empty review") and err.count("\n") == 2
    assert err.splitlines()[-1].startswith("error: ") and "line 4 is longer than" in err


def test_a_record_at_the_bound_is_read(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.txt"
    review = "good " * ((record_limit() - 2) // 5)
    source.write_text(review + "\r\nawful\n")
    code, out, _ = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 0
    assert [float(r["probability"]) for r in csv_rows(out)] == [
        fake_probability(review),
        fake_probability("awful"),
    ]


@pytest.mark.parametrize(
    "args",
    [["--id-column", "id"], ["--text-column", "body"], ["--input", "-", "--id-column", "id"]],
)
def test_columns_for_stdin_are_refused_before_reading(capsys, monkeypatch, tmp_path, args):
    fake_scorer(monkeypatch)
    stdin = set_stdin(monkeypatch, b"good film\n")
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert "needs a .csv or .jsonl --input" in err
    assert stdin.tell() == 0  # refused before reading


@pytest.mark.parametrize("suffix", [None, ".txt"])
def test_a_text_column_for_reviews_without_columns_is_refused(
    capsys, monkeypatch, tmp_path, suffix
):
    fake_scorer(monkeypatch)
    args = ["good film"]
    if suffix:
        source = tmp_path / f"in{suffix}"
        source.write_text("good film\n")
        args = ["--input", str(source)]
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--text-column", "body", *args
    )
    assert code == 2 and out == "" and "--text-column needs a .csv or .jsonl --input" in err


def test_jsonl_columns_come_from_the_first_record(capsys, tmp_path, monkeypatch):
    """Streaming cannot look ahead: the first record names the columns, later ones may lack
    them and fail alone."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.jsonl"
    source.write_text('\n{"id": 1, "text": "good"}\n{"other": 2}\n{"id": 3, "text": "bad"}\n')
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source), "--json"
    )
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [r["id"] for r in rows] == [1, None, 3]
    assert rows[1]["error"] == "JSON line 3: no 'text' key"
    source.write_text('{"id": 1, "body": "good"}\n{"text": "bad"}\n')
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2 and out == "" and "no text column 'text'" in err
    source.write_text("[1, 2]\n")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2 and "line 1 is not a JSON object" in err


def test_bad_json_lines_name_their_line_in_the_file(capsys, tmp_path, monkeypatch):
    """Blank lines are skipped, so row 2 is line 4; json's own "line 1" was the line itself."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "good film", "id": 1}\n\n\n{"text": bad}\n{"id": 5}\n')
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), "-i", str(source))
    assert code == 1
    assert [r["error"] for r in csv_rows(out)] == [
        "",
        "JSON line 4: invalid JSON: Expecting value at column 10",
        "JSON line 5: no 'text' key",
    ]
    assert "row 2: JSON line 4: invalid JSON: Expecting value at column 10\n" in err
    source.write_text('\n{"text": "good film",}\n')
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), "-i", str(source))
    assert code == 2 and out == ""
    with pytest.raises(json.JSONDecodeError) as decoding:
        json.loads('{"text": "good film",}')
    reason = decoding.value.msg.removesuffix(" at")  # the wording differs across Pythons
    assert err == (
        f"error: {source}: line 2: invalid JSON: {reason} at column {decoding.value.pos + 1}\n"
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--text-column", "--text-column is empty; give the name of the column of reviews"),
        ("--model", "--model is empty; give the path of a .keras file"),
    ],
)
def test_an_empty_column_or_model_is_refused(capsys, tmp_path, monkeypatch, option, message):
    """An empty --text-column once read the default column, "text", without a word."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    source.write_text("text,id\ngood film,1\n")
    args = ["--model", model_file(tmp_path), "-i", str(source), option, ""]
    code, out, err = run_cli(capsys, "predict", *args)
    assert code == 2 and out == "" and err == f"error: {message}\n"


def test_an_empty_id_column_names_pandas_unnamed_index(capsys, tmp_path, monkeypatch):
    """The column was found, then taken for no id column: its ids came out empty."""
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    source.write_text(",text\n7,good film\n")  # as DataFrame.to_csv writes its index
    args = ["--model", model_file(tmp_path), "-i", str(source), "--id-column", ""]
    code, out, _ = run_cli(capsys, "predict", *args)
    assert code == 0 and [r[""] for r in csv_rows(out)] == ["7"]


def test_the_progress_bar_counts_bytes_of_a_file(capsys, tmp_path, monkeypatch):
    from imdb_sentiment.inference.cli import command

    fake_scorer(monkeypatch)
    source = tmp_path / "in.txt"
    source.write_text("good film\n" * 10)
    target = tmp_path / "out.jsonl"
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--input",
        str(source),
        "--output",
        str(target),
    )
    assert code == 0 and err == "wrote 10 rows to " + str(target) + "\n"  # not a terminal
    monkeypatch.setattr(command, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(command, "on_terminal", lambda: True)
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--input",
        str(source),
        "--output",
        str(target),
    )
    on_screen = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]  # \r redraws a line
    assert code == 0 and on_screen == ["predict: 100% of 0.0 MB", f"wrote 10 rows to {target}", ""]
    assert len(Path(target).read_text().splitlines()) == 10


def test_old_mac_line_ends_in_a_csv_are_named(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    source.write_bytes(b"id,text\r1,good\r2,bad\r")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "carriage return (\\r) inside an unquoted field" in err
    assert "universal-newline" not in err


def test_a_device_as_input_streams_to_the_bound(capsys, tmp_path, monkeypatch):
    """/dev/zero (through a link named .txt): endless bytes, no line end, read as they come."""
    fake_scorer(monkeypatch)
    source = tmp_path / "zeros.txt"
    source.symlink_to("/dev/zero")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith(f"error: {source}: line 1 is longer than")
