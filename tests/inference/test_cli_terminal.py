"""User text reaches the terminal escaped: no escape sequence or control character from a file,
a column name, a path or an argument is printed raw on stderr. Output rows are data: exact."""

from __future__ import annotations

import io
import json
import re

import pytest
from cli_fakes import csv_rows, fake_scorer, model_file, run_cli, set_stdin

# An escape sequence that would clear the screen, a title-setting OSC, a bell, a right-to-left
# override and a lone surrogate: none may reach stderr as such
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\u202e\x9b"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


# What a terminal obeys or reorders, beyond HOSTILE: DEL, C1 controls, every bidirectional
# embedding, override and isolate, and the line separators some readers split lines on
OBEYED = "\x7f\x85\x90\x9d\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u2028\u2029"
RAW_IN_JSON = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def assert_escaped(err: str) -> None:
    assert not RAW.search(err), f"raw control characters on stderr: {err!r}"


def test_a_hostile_csv_header_is_shown_escaped(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    source.write_text(f"id,{HOSTILE}\n1,good\n", encoding="utf-8")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2 and out == "" and err.count("\n") == 1
    assert_escaped(err)
    assert "\\x1b[2J" in err and "no text column 'text'" in err


def test_a_hostile_path_is_shown_escaped(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    for args in (
        ["--input", str(tmp_path / f"{HOSTILE}.xml")],
        ["--input", str(tmp_path / f"{HOSTILE}.txt")],
        ["--output", str(tmp_path / f"{HOSTILE}.parquet"), "good"],
        ["--output", str(tmp_path / HOSTILE / "out.csv"), "good"],
    ):
        code, _, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), *args)
        assert code == 2 and err.count("\n") == 1, err
        assert_escaped(err)


def test_hostile_column_options_and_arguments_are_shown_escaped(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "good", "id": 1}\n{"id": 2}\n', encoding="utf-8")
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--input",
        str(source),
        "--id-column",
        HOSTILE,
    )
    assert code == 2 and err.count("\n") == 1
    assert_escaped(err)
    code, _, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), f"--{HOSTILE}")
    assert code == 2
    assert_escaped(err)
    code, _, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--threshold", HOSTILE, "good"
    )
    assert code == 2
    assert_escaped(err)


def test_a_warning_about_a_hostile_file_is_escaped(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / f"{HOSTILE}.txt"
    source.write_bytes(b"good \xff film\nbad\rfilm\n")
    code, _, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 0 and "not valid UTF-8" in err and "carriage returns" in err
    assert_escaped(err.replace("\r", ""))  # tqdm's own bar redraws with \r
    assert "\\x1b[2J" in err


def test_row_errors_on_stderr_are_escaped_and_exact_in_the_output(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    source.write_text(f'id,text\n"{HOSTILE}",good\n2,bad,extra\n', encoding="utf-8")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 1
    assert_escaped(err.replace("\r", ""))  # tqdm's own bar redraws with \r
    assert [r["id"] for r in csv_rows(out)] == [HOSTILE, "2"]


def test_a_huge_header_is_named_briefly(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    source.write_text(",".join(f"column{n}" for n in range(100_000)) + "\n1\n")
    code, _, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    assert code == 2 and err.count("\n") == 1 and len(err) < 2_000
    assert "100000 columns" in err


@pytest.mark.parametrize("data", [b"\x1b[2J\n", b"\x00\x01\x02\n"])
def test_control_characters_in_reviews_are_scored_not_shown(capsys, tmp_path, monkeypatch, data):
    fake_scorer(monkeypatch)
    set_stdin(monkeypatch, data)
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path))
    assert code == 0 and len(csv_rows(out)) == 1
    assert_escaped(err)


def test_csv_rows_bound_for_a_terminal_show_control_characters_escaped():
    """An id from the input reaches a terminal escaped; to a file or a pipe it stays exact."""
    from imdb_sentiment.inference.cli.writers import Outcome, RecordWriter, Sink

    rows = {}
    for terminal in (True, False):
        out = io.BytesIO()
        writer = RecordWriter(Sink(out, "to stdout"), ".csv", "id", terminal=terminal)
        writer.write([Outcome(HOSTILE, "positive", 0.9, None)])
        rows[terminal] = out.getvalue().decode()
    assert not RAW.search(rows[True]) and "\\x1b" in rows[True]
    assert HOSTILE in rows[False]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_json_rows_escape_what_a_terminal_would_obey(terminal):
    """C1 controls (U+009B is CSI), DEL and bidirectional overrides in an id or an error are
    written as \\u escapes, wherever the rows go, and parse back exact."""
    from imdb_sentiment.inference.cli.writers import Outcome, RecordWriter, Sink

    hostile = HOSTILE + OBEYED
    out = io.BytesIO()
    writer = RecordWriter(Sink(out, "to stdout"), ".jsonl", "id", terminal=terminal)
    writer.write([Outcome(hostile, "positive", 0.9), Outcome([hostile], error=f"bad: {hostile}")])
    lines = out.getvalue().decode().split("\n")
    assert lines.pop() == "" and len(lines) == 2
    assert not any(RAW_IN_JSON.search(line) for line in lines), lines
    assert "\\u009b" in lines[0] and "\\u202e" in lines[0] and "\\u2069" in lines[1]
    first, second = (json.loads(line) for line in lines)
    assert first["id"] == hostile and second == {
        "id": [hostile],
        "label": None,
        "probability": None,
        "error": f"bad: {hostile}",
    }


def test_json_output_of_a_run_escapes_hostile_ids_and_keeps_them_exact(
    capsys, tmp_path, monkeypatch
):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    hostile = "\x1b[2J\x9b2J" + OBEYED
    source.write_text(f'id,text\n"{hostile}",good\n', encoding="utf-8")
    code, out, _ = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source), "--json"
    )
    assert code == 0 and out.endswith("\n")
    assert not RAW_IN_JSON.search(out[:-1]), out
    assert json.loads(out)["id"] == hostile
