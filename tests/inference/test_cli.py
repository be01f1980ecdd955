"""The `imdb-sentiment predict` command, run in-process on the tiny model."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imdb_sentiment.inference import cli
from imdb_sentiment.inference.scoring import predict_texts

# Different lengths in a non-sorted order: predict_texts batches by length, so
# these catch any mix-up between output rows and input rows.
CLI = [sys.executable, "-m", "imdb_sentiment.inference.cli"]
REVIEWS = [
    "Great wonderful brilliant film, loved the story and the superb music.",
    "Awful.",
    "The plot was dull and boring, the worst waste of a director and a cast I have seen, "
    "terrible ending too.",
    "Superb, moving, excellent.",
    "It was a film.",
]


def run(capsys, *args: str) -> tuple[int, str, str]:
    """cli.main in-process: (exit status, stdout, stderr)."""
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def expected(model, texts: list[str]) -> list[float]:
    return [float(p) for p in predict_texts(model, texts)]


def read_csv_text(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def set_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.fixture
def model_path(tiny_pipeline) -> str:
    return str(tiny_pipeline["model"])


def test_single_review_prints_label_and_probability(capsys, model_path, tiny_model):
    code, out, _ = run(capsys, "predict", "--model", model_path, REVIEWS[0])
    assert code == 0
    rows = read_csv_text(out)
    assert len(rows) == 1 and list(rows[0]) == ["label", "probability", "error"]
    p = expected(tiny_model, REVIEWS[:1])[0]
    assert float(rows[0]["probability"]) == pytest.approx(p, abs=1e-5)
    assert rows[0]["label"] == ("positive" if p >= 0.5 else "negative")
    assert rows[0]["error"] == ""


def test_stdin_one_review_per_line_in_order(capsys, monkeypatch, model_path, tiny_model):
    set_stdin(monkeypatch, ("\r\n".join(REVIEWS) + "\r\n").encode())
    code, out, _ = run(capsys, "predict", "--model", model_path)
    assert code == 0
    rows = read_csv_text(out)
    assert len(rows) == len(REVIEWS)  # no phantom row after the final newline
    for row, p in zip(rows, expected(tiny_model, REVIEWS), strict=True):
        assert float(row["probability"]) == pytest.approx(p, abs=1e-5)


def test_txt_file_to_csv_keeps_order(capsys, tmp_path, model_path, tiny_model):
    source = tmp_path / "reviews.txt"
    source.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    target = tmp_path / "scored.csv"
    code, out, err = run(
        capsys, "predict", "--model", model_path, "--input", str(source), "--output", str(target)
    )
    assert code == 0 and out == ""
    assert "wrote 5 rows to" in err
    rows = read_csv_text(target.read_text(encoding="utf-8"))
    probs = expected(tiny_model, REVIEWS)
    assert [float(r["probability"]) for r in rows] == pytest.approx(probs, abs=1e-5)
    assert [r["label"] for r in rows] == ["positive" if p >= 0.5 else "negative" for p in probs]


def test_csv_with_id_to_jsonl_keeps_ids_and_order(capsys, tmp_path, model_path, tiny_model):
    texts = REVIEWS + ['A "quoted", comma-laden\nmulti-line review: great, loved it.']
    ids = [f"r{n}" for n in (7, 3, 9, 1, 5, 2)]
    source = tmp_path / "reviews.csv"
    with open(source, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "movie", "text"])
        writer.writerows([i, "tt1", t] for i, t in zip(ids, texts, strict=True))
    target = tmp_path / "scored.jsonl"
    code, _, _ = run(
        capsys, "predict", "--model", model_path, "--input", str(source), "--output", str(target)
    )
    assert code == 0
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ids
    assert list(rows[0]) == ["id", "label", "probability", "error"]
    assert [r["probability"] for r in rows] == pytest.approx(expected(tiny_model, texts), abs=1e-5)
    assert all(r["error"] is None for r in rows)


def test_jsonl_with_named_columns_to_csv(capsys, tmp_path, model_path, tiny_model):
    source = tmp_path / "reviews.jsonl"
    lines = [json.dumps({"review_id": 100 + n, "body": t}) for n, t in enumerate(REVIEWS)]
    source.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # trailing blank line
    target = tmp_path / "scored.csv"
    code, _, _ = run(
        capsys,
        "predict",
        "--model",
        model_path,
        "--input",
        str(source),
        "--output",
        str(target),
        "--text-column",
        "body",
        "--id-column",
        "review_id",
    )
    assert code == 0
    rows = read_csv_text(target.read_text(encoding="utf-8"))
    assert [r["review_id"] for r in rows] == [str(100 + n) for n in range(len(REVIEWS))]
    assert [float(r["probability"]) for r in rows] == pytest.approx(
        expected(tiny_model, REVIEWS), abs=1e-5
    )


def test_json_flag_prints_json_lines(capsys, model_path, tiny_model):
    code, out, _ = run(capsys, "predict", "--model", model_path, "--json", *REVIEWS[:3])
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3
    for row, p in zip(rows, expected(tiny_model, REVIEWS[:3]), strict=True):
        assert set(row) == {"label", "probability", "error"}
        assert row["probability"] == pytest.approx(p, abs=1e-5)
        assert row["label"] in ("positive", "negative") and row["error"] is None


def test_threshold_moves_the_label(capsys, model_path, tiny_model):
    probs = expected(tiny_model, REVIEWS)
    order = sorted(range(len(REVIEWS)), key=probs.__getitem__)
    low, high = order[0], order[-1]
    assert probs[low] < probs[high]
    threshold = (probs[low] + probs[high]) / 2
    code, out, _ = run(
        capsys,
        "predict",
        "--model",
        model_path,
        "--json",
        "--threshold",
        f"{threshold:.9f}",
        REVIEWS[low],
        REVIEWS[high],
    )
    assert code == 0
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["negative", "positive"]
    _, out, _ = run(
        capsys, "predict", "--model", model_path, "--json", "--threshold", "0", REVIEWS[low]
    )
    assert json.loads(out)["label"] == "positive"


def test_empty_rows_fail_and_the_rest_are_scored(capsys, monkeypatch, model_path, tiny_model):
    set_stdin(monkeypatch, f"{REVIEWS[0]}\n\n   \t \n{REVIEWS[1]}\n".encode())
    code, out, err = run(capsys, "predict", "--model", model_path)
    assert code == 1
    rows = read_csv_text(out)
    assert len(rows) == 4
    assert [bool(r["error"]) for r in rows] == [False, True, True, False]
    assert rows[1]["label"] == "" and rows[1]["probability"] == ""
    assert float(rows[3]["probability"]) == pytest.approx(
        expected(tiny_model, REVIEWS[1:2])[0], abs=1e-5
    )
    assert "row 2: empty review" in err and "row 3: empty review" in err
    assert "2 of 4 reviews failed" in err


def test_bad_jsonl_line_fails_only_that_row(capsys, tmp_path, model_path):
    source = tmp_path / "reviews.jsonl"
    source.write_text(
        '{"text": "great"}\n{not json\n{"text": 5}\n{"text": "awful"}\n', encoding="utf-8"
    )
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 1
    rows = read_csv_text(out)
    assert [r["error"] != "" for r in rows] == [False, True, True, False]
    assert "row 2: JSON line 2: invalid JSON" in err and "row 3: JSON line 3:" in err


def test_missing_text_column_exits_2(capsys, tmp_path, model_path):
    source = tmp_path / "reviews.csv"
    source.write_text("id,review\n1,great film\n", encoding="utf-8")
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "no text column 'text'" in err and "review" in err


def test_missing_id_column_exits_2(capsys, tmp_path, model_path):
    source = tmp_path / "reviews.csv"
    source.write_text("text\ngreat film\n", encoding="utf-8")
    code, _, err = run(
        capsys, "predict", "--model", model_path, "--input", str(source), "--id-column", "key"
    )
    assert code == 2 and "no id column 'key'" in err


def test_missing_model_exits_2(capsys, tmp_path):
    code, out, err = run(capsys, "predict", "--model", str(tmp_path / "nope.keras"), "great")
    assert code == 2 and out == ""
    assert err.startswith("error: model file not found") and err.count("\n") == 1


def test_a_directory_as_model_says_so(capsys, tmp_path):
    code, out, err = run(capsys, "predict", "--model", str(tmp_path), "great")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err == f"error: --model {tmp_path} is a directory; give the .keras file\n"


def test_unreadable_model_exits_2(capsys, tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"this is not a zip archive")
    code, _, err = run(capsys, "predict", "--model", str(bad), "great")
    assert code == 2 and err.startswith("error: could not load model")
    assert "not a Keras model file" in err and "not found" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--threshold", "1.5", "great"],
        ["--batch-size", "0", "great"],
        ["--input", "x.txt", "great"],
        ["--output", "out.parquet", "great"],
        ["--input", "missing.txt"],
        ["--input", "reviews.xml"],
        ["--id-column", "id", "great"],
    ],
)
def test_bad_usage_exits_2(capsys, model_path, args):
    code, _, err = run(capsys, "predict", "--model", model_path, *args)
    assert code == 2 and "error" in err
    assert len(err.splitlines()) == 1, err  # the error alone, not the usage above it


def test_non_utf8_input_warns_once_and_scores(capsys, tmp_path, model_path):
    source = tmp_path / "latin1.txt"
    source.write_bytes("Très bien, great film\nMauvais, awful, ennuyé\n".encode("latin-1"))
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 0
    assert err.count("warning:") == 1 and "not valid UTF-8" in err
    rows = read_csv_text(out)
    assert len(rows) == 2 and all(0.0 <= float(r["probability"]) <= 1.0 for r in rows)


def test_non_utf8_stdin_warns(capsys, monkeypatch, model_path):
    set_stdin(monkeypatch, b"great \xff\xfe film\n")
    code, out, err = run(capsys, "predict", "--model", model_path)
    assert code == 0 and "warning: stdin is not valid UTF-8" in err
    assert len(read_csv_text(out)) == 1


def test_one_megabyte_review(capsys, tmp_path, model_path, tiny_model):
    head = "Great wonderful film, loved it. "
    review = head + "The plot was dull and the acting awful. " * 26_000  # ~1 MB
    assert len(review.encode()) > 1_000_000
    source = tmp_path / "long.jsonl"
    source.write_text(
        json.dumps({"id": "big", "text": review})
        + "\n"
        + json.dumps({"id": "small", "text": REVIEWS[1]})
        + "\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "predict", "--model", model_path, "--input", str(source), "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["big", "small"]
    p = rows[0]["probability"]
    assert math.isfinite(p) and 0.0 <= p <= 1.0
    # The model keeps the first (or last) max_len tokens, 32 in the tiny model,
    # so a couple of thousand characters at that end decide the score.
    card = json.loads(Path(model_path).with_name("model.params.json").read_text())
    end = review[:2000] if card["preprocess"]["keep_tokens"] == "first" else review[-2000:]
    assert p == pytest.approx(expected(tiny_model, [end])[0], abs=1e-5)


def test_cli_module_does_not_import_tensorflow():
    code = (
        "import sys; from imdb_sentiment.inference import cli; cli.build_parser(); "
        "sys.exit('tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_help_documents_exit_codes(capsys):
    code, out, _ = run(capsys, "predict", "--help")
    assert code == 0
    assert "exit status:" in out and "0  every review" in out and "2  bad usage" in out


@pytest.mark.parametrize("args", [["--help"], ["predict", "--help"]], ids=["main", "predict"])
def test_help_fits_80_columns(capsys, monkeypatch, args):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, *args)
    assert code == 0 and "exit status:" in out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)


def entry_point() -> str:
    """The `imdb-sentiment` console script's target, as pyproject.toml declares it."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    return pyproject["project"]["scripts"]["imdb-sentiment"]


def test_the_console_script_target_is_the_entry_point():
    import importlib

    module, name = entry_point().split(":")
    assert getattr(importlib.import_module(module), name) is cli.run


@pytest.mark.slow
def test_installed_entry_point_smoke(model_path):
    command = Path(sys.executable).parent / "imdb-sentiment"
    if not command.exists():
        pytest.skip(f"{command} not installed (pip install -e .)")
    module = entry_point().split(":")[0]
    if f"from {module} import" not in command.read_text():
        pytest.skip(f"{command} was installed from another layout (pip install -e . again)")
    done = subprocess.run(
        [
            str(command),
            "predict",
            "--json",
            "--model",
            model_path,
            "Superb, moving, excellent.",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows[0]["label"] in ("positive", "negative") and rows[1]["error"]
    assert "row 2: empty review" in done.stderr


@pytest.mark.slow
def test_thread_pools_are_tuned_before_tensorflow_starts_and_left_alone_after():
    from imdb_sentiment.inference import scoring

    code = (
        "import tensorflow as tf\n"
        "from imdb_sentiment.inference import scoring\n"
        "first = scoring.tune_threads()\n"
        "pools = [tf.config.threading.get_inter_op_parallelism_threads(),\n"
        "         tf.config.threading.get_intra_op_parallelism_threads()]\n"
        "tf.constant([1.0]) + 1\n"
        "scoring.INTER_OP_THREADS += 1\n"
        "print(first, *pools, scoring.tune_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    ).stdout
    pools = [str(scoring.INTER_OP_THREADS), str(scoring.INTRA_OP_THREADS)]
    assert out.split() == ["True", *pools, "False"]


@pytest.mark.slow
def test_a_fresh_process_from_another_directory_is_quiet_and_finds_the_model(tmp_path, model_path):
    """No TensorFlow/absl/CUDA lines on stderr; the model from $IMDB_SENTIMENT_MODEL; and
    the same score as the evaluate stage's path gives, to 1e-6."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["IMDB_SENTIMENT_MODEL"] = model_path
    done = subprocess.run(
        [*CLI, "predict", REVIEWS[0]], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert read_csv_text(done.stdout)[0]["label"] in ("positive", "negative")
    loud = subprocess.run(
        [*CLI, "predict", "--verbose", REVIEWS[0]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert loud.returncode == 0 and loud.stdout == done.stdout
    assert loud.stderr.strip(), "--verbose showed none of TensorFlow's log lines"


@pytest.mark.slow
def test_a_fresh_process_scores_the_test_set_as_the_evaluate_stage_did(tmp_path, tiny_pipeline):
    """The command line, started cold (it skips some of TensorFlow's imports), gives each
    test review the probability in the evaluate stage's predictions.csv, to 1e-6."""
    import pandas as pd

    from imdb_sentiment.data import reviews

    test = reviews.read(tiny_pipeline["reviews"], split="test")
    source = tmp_path / "test.jsonl"
    source.write_text("".join(json.dumps({"text": text}) + "\n" for text in test["text"]))
    done = subprocess.run(
        [*CLI, "predict", "--input", str(source), "--model", str(tiny_pipeline["model"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    cli = pd.read_csv(io.StringIO(done.stdout))
    stage = pd.read_csv(tiny_pipeline["eval_plots"] / "predictions.csv")
    assert stage["id"].tolist() == test["id"].tolist()
    # both files round to 6 decimals: a last-digit difference is a difference below 1e-6
    assert abs(cli["probability"] - stage["probability"]).max() <= 1e-6 + 1e-12


def test_default_model_is_found_from_any_directory(tmp_path, monkeypatch):
    from imdb_sentiment.core import locations

    monkeypatch.delenv(locations.MODEL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert (
        locations.default_model() == locations.PROJECT / "models" / "model.keras"
        or not (locations.PROJECT / "models" / "model.keras").exists()
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.keras").write_bytes(b"")
    assert locations.default_model() == Path("models/model.keras")  # the one here wins
    monkeypatch.setenv(locations.MODEL_ENV, "/elsewhere/m.keras")
    assert locations.default_model() == Path("/elsewhere/m.keras")


@pytest.mark.parametrize(
    "foreign",
    ["stages:\n  hello:\n    cmd: echo hi\n", "stages: [\n  :bad", "\x00\xff", "vars: 3\n"],
)
def test_another_projects_dvc_yaml_here_falls_back_to_this_project(tmp_path, monkeypatch, foreign):
    """A user's own DVC project (or a broken dvc.yaml) in the current folder is not this
    pipeline's: the default model is the project's, as from any other folder."""
    from imdb_sentiment.core import locations

    monkeypatch.delenv(locations.MODEL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text(foreign, encoding="utf-8", errors="surrogateescape")
    project = locations.PROJECT / "models" / "model.keras"
    assert locations.default_model() == (
        project if project.exists() else Path("models/model.keras")
    )


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("imdb-sentiment ")


def test_hostile_jsonl_rows_fail_alone_and_odd_ids_are_written(capsys, tmp_path, model_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"text": "great", "id": "\\ud800"}\n'
        '{"text": "great", "id": ' + "9" * 5000 + "}\n"
        '{"text": "great", "id": NaN}\n'
        '{"text": "great", "id": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
        '{"text": "awful", "id": 2}\n',
        encoding="utf-8",
    )
    for out in (tmp_path / "out.jsonl", tmp_path / "out.csv"):
        code, _, err = run(
            capsys, "predict", "--model", model_path, "--input", str(source), "--output", str(out)
        )
        assert code == 1, err  # two rows failed, three were scored
        assert "Traceback" not in err
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    rows = [json.loads(line, parse_int=str) for line in lines]
    assert [r["error"] is None for r in rows] == [True, True, False, False, True]
    assert rows[0]["id"] == "\ufffd" and rows[4]["id"] == "2"
    assert rows[1]["id"] == "9" * 5000  # a JSON number is written as it was read


def test_json_reasons_are_whole():
    """Python's own messages for deep nesting and NaN, not cut mid-word."""
    from imdb_sentiment.inference.cli.readers import parse_json_record

    deep = "[" * 100_000 + "]" * 100_000
    try:
        json.loads(deep)
    except RecursionError as err:
        reason = str(err)
    assert parse_json_record(deep) == (None, f"invalid JSON: RecursionError: {reason}")
    assert parse_json_record('{"text": NaN}') == (
        None,
        "invalid JSON: ValueError: NaN is not a JSON number",
    )


def test_a_json_object_naming_a_key_twice_is_refused():
    """json.loads keeps the last of two values silently: the row would be scored on a text
    its writer may not have meant."""
    from imdb_sentiment.inference.cli.readers import jsonl_row, parse_json_record

    reason = "invalid JSON: ValueError: an object names the same key twice"
    assert parse_json_record('{"text": "good film", "text": "bad film"}') == (None, reason)
    assert parse_json_record('{"text": "x", "id": {"a": 1, "a": 2}}') == (None, reason)
    assert jsonl_row('{"text": "good", "text": "bad"}', "text", None).error == reason
    assert parse_json_record('{"text": "good film", "id": 1}')[1] is None


@pytest.mark.slow
def test_a_full_disk_on_stdout_is_one_line_error(model_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CLI, "predict", "--model", model_path, "great", "awful"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert done.returncode == 2
    assert (
        done.stderr.startswith("error: cannot write to stdout")
        and len(done.stderr.splitlines()) == 1
    )


def test_skipped_imports_fail_inside_the_block_and_work_after(tmp_path, monkeypatch):
    (tmp_path / "skipped_for_scoring.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with cli.skipping_imports(("skipped_for_scoring", "sys")):
        with pytest.raises(ImportError):
            import skipped_for_scoring  # noqa: F401
        import sys as still_there  # already loaded: never skipped
    import skipped_for_scoring

    assert skipped_for_scoring.VALUE == 1 and still_there is sys


def test_verbose_reaches_the_quiet_blocks_of_the_modules_it_imports(capfd, monkeypatch):
    """labelling imports TensorFlow inside its own `startup.quiet_tensorflow()`, which knows
    nothing of --verbose: inside a verbose block such a block lets fd 2 through, and a
    block after it is quiet again."""
    from imdb_sentiment.core import startup

    monkeypatch.delenv(startup.VERBOSE_ENV, raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # a quiet block sets it; restored after
    capfd.readouterr()
    for verbose in (True, False):
        with startup.quiet_tensorflow(verbose), startup.quiet_tensorflow():
            os.write(2, f"log line, verbose={verbose}\n".encode())
    assert capfd.readouterr().err == "log line, verbose=True\n"
    assert startup.VERBOSE_ENV not in os.environ


@pytest.mark.slow
def test_the_command_leaves_without_teardown_but_with_its_output_and_status(tmp_path, model_path):
    """`run` skips TensorFlow's teardown: the exit status and every output still arrive."""
    command = [*CLI, "predict", "--model", model_path]
    out = tmp_path / "scored.jsonl"
    done = subprocess.run(
        command + ["--output", str(out), REVIEWS[0], "  "], capture_output=True, text=True
    )
    assert done.returncode == cli.EXIT_SOME_FAILED, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["label"] and rows[1]["error"]
    assert "1 of 2 reviews failed" in done.stderr
    many = subprocess.run(command + ["--json"] + REVIEWS, capture_output=True, text=True)
    assert many.returncode == 0 and len(many.stdout.splitlines()) == len(REVIEWS)
    bad = subprocess.run(
        command[:-1] + [str(tmp_path / "missing.keras"), "x"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: model file not found")


def test_csv_rows_with_the_wrong_field_count_fail_alone(capsys, tmp_path, model_path):
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,great film\n2\n3,good, and fun\n\n4,awful\n", encoding="utf-8")
    code, out, _ = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 1
    rows = read_csv_text(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert [bool(r["error"]) for r in rows] == [False, True, True, False]
    assert "has 1 fields, the header 2" in rows[1]["error"]
    assert "has 3 fields, the header 2" in rows[2]["error"]


def test_a_stray_quote_fails_its_row_alone(capsys, tmp_path, model_path):
    """`2,"Great" film` ends with its line however a reader takes its quotes: only its row
    fails, with its id (as a lenient reader reads it), and the rows after it are scored."""
    source = tmp_path / "in.csv"
    source.write_text(
        'id,text\n1,good film\n2,"Great" film and loved it\n3,"a ""fine"" film"\n'
        '4,"line one\nhe said "wow" and left"\n5,bad film\n',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 1, err
    rows = read_csv_text(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [bool(r["error"]) for r in rows] == [False, True, False, True, False]
    assert rows[1]["error"].startswith("CSV line 3: text after the quote that closes")
    assert rows[3]["error"].startswith("CSV line 6: ")
    assert "row 2: CSV line 3" in err and "2 of 5 reviews failed" in err


@pytest.mark.parametrize(
    ("content", "ids", "message"),
    [
        # the quote may run on into the next line: where the next record starts is a guess
        ('id,text\n1,good\n2,"she said "hi" and\nleft, sadly"\n3,bad\n', ["1"], "near line 3"),
        # a quoted field never closed: the line it starts on, not the last line read
        ('id,text\n1,good\n2,"a\nb",x\n3,"x\ny\nz\n', ["1", "2"], "field that starts at line 5"),
    ],
)
def test_a_bad_csv_record_stops_the_run_after_the_rows_before_it(
    capsys, tmp_path, model_path, content, ids, message
):
    source = tmp_path / "in.csv"
    source.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 2
    assert [r["id"] for r in read_csv_text(out)] == ids  # the rows before it, written
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and message in last, err
    target = tmp_path / "scored.csv"
    code, _, _ = run(
        capsys, "predict", "--model", model_path, "--input", str(source), "-o", str(target)
    )
    assert code == 2 and not target.exists()  # an --output file is only ever complete


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('text\n"good\n', "field that starts at line 2"),
        ('id,"te"xt\n1,good\n', "bad CSV header (line 1): text after the quote"),
        ("text,text\na,b\n", "2 columns named 'text'"),
        ("id,text,id\n1,a,2\n", "2 columns named 'id'"),
    ],
)
def test_ambiguous_csv_stops_before_scoring(capsys, tmp_path, model_path, content, message):
    source = tmp_path / "in.csv"
    source.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 2 and out == "" and message in err


def test_jsonl_record_without_the_text_key_says_so(capsys, tmp_path, model_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"text": "great"}\n{"id": "k", "other": 1}\n{"text": null}\n', encoding="utf-8"
    )
    code, out, _ = run(capsys, "predict", "--model", model_path, "--input", str(source))
    assert code == 1
    errors = [r["error"] for r in read_csv_text(out)]
    assert errors == ["", "JSON line 2: no 'text' key", "JSON line 3: 'text' is not a string"]


def test_wordless_reviews_fail_alone(capsys, model_path, tiny_model):
    code, out, err = run(
        capsys,
        "predict",
        "--model",
        model_path,
        "!!!",
        REVIEWS[0],
        "\U0001f600\U0001f44d",
        "<br /><br />",
        "&amp; ...",
        "' '' '",
    )
    assert code == 1
    rows = read_csv_text(out)
    assert [bool(r["error"]) for r in rows] == [True, False, True, True, True, True]
    assert all(r["error"].startswith("no words to classify") for r in rows if r["error"])
    assert float(rows[1]["probability"]) == pytest.approx(
        expected(tiny_model, REVIEWS[:1])[0], abs=1e-5
    )
    assert "5 of 6 reviews failed" in err


def test_an_unwritable_output_fails_before_reading_any_review(
    capsys, tmp_path, monkeypatch, model_path
):
    stdin = io.BytesIO(b"great film\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin, encoding="utf-8"))
    (tmp_path / "a-file").write_text("x")
    code, _, err = run(
        capsys, "predict", "--model", model_path, "--output", str(tmp_path / "a-file" / "out.csv")
    )
    assert code == 2 and "cannot write" in err
    assert stdin.tell() == 0  # nothing was read, so nothing was scored in vain


def test_a_pipe_as_output_is_refused_and_kept(capsys, tmp_path, model_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "predict", "--model", model_path, "--output", str(fifo), "great")
    assert code == 2 and "not a regular file" in err
    assert fifo.is_fifo()


def test_dash_input_is_stdin_and_lone_carriage_returns_are_warned(capsys, monkeypatch, model_path):
    set_stdin(monkeypatch, b"great film\rawful film\n")
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", "-")
    assert code == 0 and len(read_csv_text(out)) == 1
    assert "carriage returns" in err


def test_one_row_written_is_one_row(capsys, tmp_path, model_path):
    code, _, err = run(
        capsys, "predict", "--model", model_path, "--output", str(tmp_path / "out.csv"), "great"
    )
    assert code == 0 and "wrote 1 row to" in err


def closing(*fds: int):
    """A preexec_fn that starts the command with these descriptors closed."""
    return lambda: [os.close(fd) for fd in fds]


@pytest.mark.slow
def test_closed_standard_streams_lose_nothing_and_say_what_they_can(tmp_path, model_path):
    command = [*CLI, "predict", "--model", model_path]
    out = tmp_path / "scored.csv"
    no_stderr = subprocess.run(
        command + ["--output", str(out), REVIEWS[0]],
        stdout=subprocess.PIPE,
        preexec_fn=closing(2),
        timeout=120,
    )
    assert no_stderr.returncode == 0 and no_stderr.stdout == b""
    assert len(read_csv_text(out.read_text())) == 1
    no_stdout = subprocess.run(
        command + [REVIEWS[0]],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=closing(1),
        timeout=120,
    )
    assert no_stdout.returncode == 2, no_stdout.stderr
    assert no_stdout.stderr == "error: stdout is closed: pass --output FILE\n"
    to_file = subprocess.run(
        command + ["--output", str(tmp_path / "b.csv"), REVIEWS[0]],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=closing(1),
        timeout=120,
    )
    assert to_file.returncode == 0 and "Traceback" not in to_file.stderr
    assert len(read_csv_text((tmp_path / "b.csv").read_text())) == 1


def test_the_input_file_is_never_the_output(capsys, tmp_path, model_path):
    source = tmp_path / "mine.csv"
    source.write_text("id,text,notes\n1,great film,my notes\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(source)
    for output in (source, tmp_path / "link.csv", tmp_path / "." / "mine.csv"):
        code, out, err = run(
            capsys,
            "predict",
            "--model",
            model_path,
            "--input",
            str(source),
            "--output",
            str(output),
        )
        assert code == 2 and "is the --input file" in err
    assert source.read_text(encoding="utf-8") == "id,text,notes\n1,great film,my notes\n"


def test_an_output_in_a_missing_folder_fails_and_creates_nothing(capsys, tmp_path, model_path):
    code, _, err = run(
        capsys,
        "predict",
        "--model",
        model_path,
        "--output",
        str(tmp_path / "new" / "sub" / "out.csv"),
        "great",
    )
    assert code == 2 and "no such folder" in err
    assert not (tmp_path / "new").exists()


def test_reviews_without_a_known_word_fail_alone(capsys, model_path, tiny_model):
    unknown = ["\u8fd9\u90e8\u7535\u5f71\u592a\u70c2\u4e86", "xyzzyq qwfpgj", "\u0661\u0662\u0663"]
    code, out, err = run(
        capsys, "predict", "--model", model_path, *unknown, REVIEWS[0], "xyzzyq " + REVIEWS[1]
    )
    assert code == 1
    rows = read_csv_text(out)
    assert [bool(r["error"]) for r in rows] == [True, True, True, False, False]
    assert all("none of its words is in the model's vocabulary" in r["error"] for r in rows[:3])
    assert "3 of 5 reviews failed" in err


def test_jsonl_ids_reach_csv_as_json_and_bad_lines_say_where(capsys, tmp_path, model_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"text": "great film", "id": {"a": 1}}\n{"text": "great", "id": true}\n'
        '{"text": "bad\x00", "id": 3}\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "predict", "--model", model_path, "--input", str(source))
    rows = read_csv_text(out)
    assert code == 1 and [r["id"] for r in rows[:2]] == ['{"a": 1}', "true"]
    assert rows[2]["error"] == ("JSON line 3: invalid JSON: Invalid control character at column 14")


def test_ctrl_c_is_one_line_and_status_130(tmp_path, model_path):
    import errno
    import signal
    import time

    source = tmp_path / "reviews.txt"
    os.mkfifo(source)
    # Python's Ctrl-C handler set first: a shell starts background jobs (`make test &`) with
    # SIGINT ignored, and their children inherit that
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'imdb-sentiment'; runpy.run_module('imdb_sentiment.inference.cli', "
        "run_name='__main__')"
    )
    waiting = subprocess.Popen(
        [sys.executable, "-c", start, "predict", "--model", model_path, "--input", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while True:  # the FIFO opens for writing once the command has opened it to read its reviews
        try:
            writer = os.open(source, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as err:
            assert err.errno == errno.ENXIO and waiting.poll() is None
            assert time.monotonic() < deadline, "the command never opened its input"
            time.sleep(0.05)
    waiting.send_signal(signal.SIGINT)  # it now waits inside `main` for reviews
    out, err = waiting.communicate(timeout=60)
    os.close(writer)
    assert waiting.returncode == 130 and out == ""
    assert err == "interrupted: nothing written\n"


def test_utf16_files_with_their_mark_are_read(capsys, tmp_path, model_path, tiny_model):
    source = tmp_path / "excel.csv"
    source.write_bytes(
        "id,text\r\n1,Superb, moving\r\n2,\u00e9pouvantable\r\n".replace(
            "Superb, moving", '"Superb, moving"'
        ).encode("utf-16")
    )
    code, out, err = run(capsys, "predict", "--model", model_path, "--input", str(source))
    rows = read_csv_text(out)
    assert [r["id"] for r in rows] == ["1", "2"] and "UTF-8" not in err
    assert float(rows[0]["probability"]) == pytest.approx(
        expected(tiny_model, ["Superb, moving"])[0], abs=1e-5
    )
