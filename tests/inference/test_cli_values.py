"""Every value the command writes is valid in its format: ids exact, probabilities in [0, 1]."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from cli_fakes import (
    csv_rows,
    fake_command,
    fake_probability,
    fake_scorer,
    model_file,
    run_cli,
)


def strict_json(line: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse, parse_float=Decimal, parse_int=Decimal)


ODD_NUMBERS = [
    "1e999",
    "-1e999",
    "1E400",
    "-0",
    "0.1000000000000000055511151231257827",
    "1" * 5000,
    "2.5e-400",
    "123456789012345678901234567890",
]


@pytest.mark.parametrize("number", ODD_NUMBERS, ids=lambda n: n[:20])
def test_json_number_ids_are_written_as_they_were_read(capsys, tmp_path, monkeypatch, number):
    fake_scorer(monkeypatch)
    source = tmp_path / "in.jsonl"
    source.write_text(
        f'{{"id": {number}, "text": "good film"}}\n'
        f'{{"id": [{number}, {{"k": {number}}}], "text": "bad"}}\n'
    )
    code, out, err = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source), "--json"
    )
    assert code == 0, err
    first, second = (strict_json(line) for line in out.splitlines())
    assert out.splitlines()[0].startswith(f'{{"id": {number}, ')
    assert first["id"] == Decimal(number)
    assert second["id"] == [Decimal(number), {"k": Decimal(number)}]
    code, out, _ = run_cli(
        capsys, "predict", "--model", model_file(tmp_path), "--input", str(source)
    )
    rows = csv_rows(out)
    assert rows[0]["id"] == number and rows[1]["id"] == f'[{number}, {{"k": {number}}}]'


@pytest.mark.parametrize("broken", [math.nan, 1.5, -0.25, math.inf])
@pytest.mark.parametrize("fmt", [[], ["--json"]], ids=["csv", "jsonl"])
def test_a_model_output_outside_0_1_is_a_broken_model(capsys, tmp_path, monkeypatch, broken, fmt):
    fake_scorer(monkeypatch, override=broken)
    code, out, err = run_cli(capsys, "predict", "--model", model_file(tmp_path), *fmt, "good film")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "model" in err and out == ""
    for word in ("nan", "NaN", "inf", "Infinity", "1.5", "-0.25"):
        assert word not in out


def test_a_broken_model_leaves_the_old_output_and_stops_the_stream(tmp_path):
    import subprocess

    target = tmp_path / "scored.jsonl"
    target.write_text("old\n")
    done = subprocess.run(
        fake_command(
            "predict",
            "--model",
            model_file(tmp_path),
            "--output",
            str(target),
            "good",
            "bad",
            override=math.nan,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert target.read_text() == "old\n"


def test_probabilities_are_plain_decimals_in_both_formats(capsys, tmp_path, monkeypatch):
    fake_scorer(monkeypatch)
    texts = ["good", "bad film", "it was fine"]
    code, out, _ = run_cli(capsys, "predict", "--model", model_file(tmp_path), "--json", *texts)
    assert code == 0
    for line, text in zip(out.splitlines(), texts, strict=True):
        assert strict_json(line)["probability"] == Decimal(str(fake_probability(text)))


@pytest.mark.parametrize(
    ("probability", "shown"),
    [(4.1e-05, "0.000041"), (1e-07, "0.0"), (0.0001, "0.0001"), (0.5, "0.5"), (1.0, "1.0")],
)
def test_probabilities_are_fixed_point_never_exponents(
    capsys, tmp_path, monkeypatch, probability, shown
):
    """To PROBABILITY_DECIMALS decimals, as the help says, however small: `0.000041`, never
    `4.1e-05`; trailing zeros dropped, as in the evaluate stage's predictions.csv."""
    fake_scorer(monkeypatch, override=probability)
    code, out, _ = run_cli(capsys, "predict", "--model", model_file(tmp_path), "good")
    assert code == 0 and csv_rows(out)[0]["probability"] == shown
    code, out, _ = run_cli(capsys, "predict", "--model", model_file(tmp_path), "--json", "good")
    assert code == 0 and f'"probability": {shown},' in out
    assert strict_json(out)["probability"] == Decimal(shown)


@pytest.mark.parametrize(
    "text_id",
    [
        "\x1b[31mred",
        "a,b",
        'quo"te',
        "line\nbreak",
        "cr\ronly",
        "nul\x00byte",
        " spaced ",
        "=1+1",
        "",
    ],
)
def test_csv_ids_are_data_and_stay_exact(capsys, tmp_path, monkeypatch, text_id):
    import csv

    fake_scorer(monkeypatch)
    source = tmp_path / "in.csv"
    with open(source, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([["id", "text"], [text_id, "good film"]])
    for fmt in ([], ["--json"]):
        code, out, _ = run_cli(
            capsys, "predict", "--model", model_file(tmp_path), "--input", str(source), *fmt
        )
        assert code == 0
        written = strict_json(out)["id"] if fmt else csv_rows(out)[0]["id"]
        assert written == text_id


def test_a_scorer_that_refuses_the_model_outputs_is_one_line(capsys, tmp_path, monkeypatch):
    """scoring.predict_texts raises PipelineError for NaN, out-of-range or wrong-shape outputs:
    one line, status 2, the old --output kept."""
    from imdb_sentiment.core.errors import PipelineError
    from imdb_sentiment.inference.cli import command

    def load_scorer(args):
        def score(texts):
            raise PipelineError("the model returned NaN for 3 of 3 reviews")

        return score

    monkeypatch.setattr(command, "load_scorer", load_scorer)
    target = tmp_path / "scored.csv"
    target.write_text("old\n")
    code, out, err = run_cli(
        capsys,
        "predict",
        "--model",
        model_file(tmp_path),
        "--output",
        str(target),
        "good",
        "bad",
        "fine",
    )
    assert code == 2 and err == "error: the model returned NaN for 3 of 3 reviews\n"
    assert target.read_text() == "old\n"
