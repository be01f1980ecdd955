"""Bad input to a stage: one line on stderr, exit status 2, and every earlier output kept."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from builders import CHECKS, copy_repo, dvc, write_params

from imdb_sentiment.pipeline import preprocess, train


def run_main(main, argv: list[str], capsys) -> str:
    """Run a stage main that must fail on bad input; returns its one stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: "), err
    return err[-1]


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (or of `root` itself)."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {
        str(p.relative_to(root.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


@pytest.fixture
def trained(tiny_pipeline, tmp_path) -> dict[str, Path]:
    """A copy of the tiny pipeline's train inputs and outputs to break things in."""
    work = tmp_path / "work"
    for name in ("data", "models", "metrics"):
        shutil.copytree(tiny_pipeline["root"] / name, work / name)
    return {
        "root": work,
        "processed": work / "data" / "processed",
        "reviews": work / "data" / "reviews.parquet",
        "model": work / "models" / "model.keras",
        "live": work / "metrics" / "train",
    }


def train_args(paths: dict[str, Path], params: Path) -> list[str]:
    return [
        "--params",
        str(params),
        "--data",
        str(paths["processed"]),
        "--model",
        str(paths["model"]),
        "--live",
        str(paths["live"]),
    ]


def outputs(paths: dict[str, Path]) -> dict[str, str]:
    """The model and its card: what a failed training must leave as they were. (Its curves
    are written as the fit goes, so they show the failed run's epochs.)"""
    return {
        **digest(paths["model"]),
        **digest(paths["model"].with_name("model.params.json")),
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # word vectors of preprocess.pretrain_dim 8 do not fit a 32-wide embedding
        ({"embedding_dim": 32, "pretrained_embeddings": True}, "pretrained embeddings have shape"),
        # a learning rate this large sends the loss to NaN in the first steps
        ({"learning_rate": 1e38}, "became nan"),
    ],
)
@pytest.mark.slow
def test_failed_training_keeps_the_previous_model(
    trained, tmp_path, capsys, monkeypatch, overrides, message
):
    from builders import TINY_PARAMS

    before = outputs(trained)
    params = write_params(
        tmp_path / "params.yaml", {"train": {**TINY_PARAMS["train"], **overrides}}
    )
    monkeypatch.chdir(trained["root"])
    line = run_main(train.main, train_args(trained, params), capsys)
    assert message in line
    assert outputs(trained) == before
    leftovers = [p for p in trained["root"].rglob("*") if ".tmp-" in p.name]
    assert not leftovers


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_missing_or_corrupt_inputs_are_one_line_errors(
    trained, tmp_path, capsys, monkeypatch, damage
):
    params = write_params(tmp_path / "params.yaml")
    target = trained["processed"] / "train.npz"
    table = trained["reviews"]
    if damage == "missing":
        target.unlink()
        table.unlink()
    else:
        target.write_bytes(b"PK\x03\x04 not really a zip")
        table.write_bytes(b"PAR1 nonsense")
    monkeypatch.chdir(trained["root"])
    line = run_main(train.main, train_args(trained, params), capsys)
    assert "train.npz" in line
    line = run_main(
        preprocess.main,
        [
            "--params",
            str(params),
            "--reviews",
            str(table),
            "--out",
            str(tmp_path / "p"),
            "--report",
            str(tmp_path / "r.json"),
        ],
        capsys,
    )
    assert "reviews.parquet" in line and "reviews table" in line


def test_vocabulary_that_would_be_empty_is_refused(tiny_pipeline, tmp_path, capsys):
    params = write_params(tmp_path / "params.yaml", {"preprocess": {"min_count": 10**9}})
    line = run_main(
        preprocess.main,
        [
            "--params",
            str(params),
            "--reviews",
            str(tiny_pipeline["reviews"]),
            "--out",
            str(tmp_path / "p"),
            "--report",
            str(tmp_path / "r.json"),
        ],
        capsys,
    )
    assert "vocabulary would be empty" in line
    assert not (tmp_path / "p").exists() and not (tmp_path / "r.json").exists()


def test_model_file_is_byte_identical_when_saved_twice(tiny_model, tmp_path):
    train.save_keras(tiny_model, tmp_path / "a.keras")
    train.save_keras(tiny_model, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    from imdb_sentiment.inference.scoring import load_model

    reloaded = load_model(tmp_path / "a.keras")
    assert [w.tolist() for w in reloaded.get_weights()] == [
        w.tolist() for w in tiny_model.get_weights()
    ]


def test_cli_refuses_a_directory_as_output_and_keeps_it(tiny_pipeline, tmp_path, capsys):
    from imdb_sentiment.inference import cli

    out = tmp_path / "results.csv"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "keep.txt").write_text("precious")
    line = run_main(
        cli.main,
        ["predict", "--model", str(tiny_pipeline["model"]), "--output", str(out), "great film"],
        capsys,
    )
    assert "is a directory" in line
    assert (out / "sub" / "keep.txt").read_text() == "precious"
    unwritable = tmp_path / "plain-file"
    unwritable.write_text("x")
    line = run_main(
        cli.main,
        [
            "predict",
            "--model",
            str(tiny_pipeline["model"]),
            "--output",
            str(unwritable / "out.csv"),
            "great film",
        ],
        capsys,
    )
    assert "cannot write" in line
    assert sorted(os.listdir(tmp_path)) == ["plain-file", "results.csv"]  # nothing left behind


@pytest.mark.slow
def test_a_failing_dvc_repro_keeps_every_earlier_output(reproduced_repo, tmp_path):
    """DVC deletes a stage's outputs before running it, unless they are `persist`; ours are,
    and the stage replaces them only on success."""
    import yaml

    repo = copy_repo(reproduced_repo, tmp_path / "repo")

    def kept() -> dict[str, str]:  # the training curves are live: they show the failed run
        found = {**digest(repo / "models"), **digest(repo / "metrics")}
        return {k: v for k, v in found.items() if not k.startswith("metrics/train/")}

    before = kept()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(embedding_dim=32, pretrained_embeddings=True)  # vectors are 8-wide
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    failed = dvc("repro", cwd=repo, check=False)
    assert failed.returncode != 0 and "pretrained embeddings have shape" in failed.stderr
    assert kept() == before


@pytest.mark.parametrize(
    "tamper",
    [
        "short vocabulary",
        "duplicate words",
        "reversed offsets",
        "short labels",
        "float ids",
        "negative ids",
        "config list",
    ],
)
def test_tampered_preprocess_output_is_named_not_trained_on(
    trained, tmp_path, capsys, monkeypatch, tamper
):
    import json

    import numpy as np

    out = trained["processed"]
    vocab = out / "vocab.txt"
    with np.load(out / "train.npz") as data:
        arrays = {key: data[key] for key in data.files}
    if tamper == "short vocabulary":
        vocab.write_text("".join(vocab.read_text().splitlines(keepends=True)[:5]))
    elif tamper == "duplicate words":
        vocab.write_text(vocab.read_text() + vocab.read_text().splitlines(keepends=True)[0])
    elif tamper == "reversed offsets":
        arrays["offsets"] = arrays["offsets"][::-1].copy()
    elif tamper == "short labels":
        arrays["labels"] = arrays["labels"][:3]
    elif tamper == "float ids":
        arrays["ids"] = arrays["ids"].astype(np.float32)
    elif tamper == "negative ids":
        arrays["ids"][0] = -5
    else:
        (out / "preprocess.json").write_text(json.dumps([1, 2]))
    np.savez(out / "train.npz", **arrays)
    params = write_params(tmp_path / "params.yaml")
    monkeypatch.chdir(trained["root"])
    line = run_main(train.main, train_args(trained, params), capsys)
    assert "vocab" in line or "preprocess" in line


@pytest.mark.parametrize("damage", ["label 5", "text missing", "one test class"])
def test_malformed_reviews_table_is_named(tiny_pipeline, tmp_path, capsys, damage):
    import pandas as pd

    from imdb_sentiment.pipeline import evaluate

    table = pd.read_parquet(tiny_pipeline["reviews"])
    if damage == "label 5":
        table.loc[table.index[0], "label"] = 5
    elif damage == "text missing":
        table["text"] = table["text"].astype(object)
        table.loc[table.index[0], "text"] = None
    else:
        table = table[(table["split"] != "test") | (table["label"] == 1)]
    path = tmp_path / "reviews.parquet"
    table.to_parquet(path)
    params = write_params(tmp_path / "params.yaml")
    line = run_main(
        preprocess.main,
        [
            "--params",
            str(params),
            "--reviews",
            str(path),
            "--out",
            str(tmp_path / "p"),
            "--report",
            str(tmp_path / "r.json"),
        ],
        capsys,
    )
    assert "label" in line or "text" in line or "both classes" in line
    line = run_main(
        evaluate.main,
        [
            "--reviews",
            str(path),
            "--model",
            str(tiny_pipeline["model"]),
            "--metrics",
            str(tmp_path / "m.json"),
            "--checks",
            str(CHECKS),
            "--robustness",
            str(tmp_path / "r.json"),
            "--behaviour",
            str(tmp_path / "b.json"),
            "--plots",
            str(tmp_path / "plots"),
        ],
        capsys,
    )
    assert "label" in line or "text" in line or "both classes" in line


def test_the_stage_launcher_helps_and_names_the_stage_in_its_usage(capsys, tmp_path):
    """`python -m imdb_sentiment.pipeline --help` lists the stages and exits 0; a stage's
    own help is headed by the command that runs it, not by `__main__.py`."""
    import subprocess
    import sys

    from imdb_sentiment.pipeline import __main__ as launcher

    launcher.main(["--help"])
    assert "{ingest,preprocess,train,evaluate,export}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as unknown:
        launcher.main(["bogus"])
    assert unknown.value.code == 2 and "usage:" in capsys.readouterr().err
    # in a child: a stage run pins the process's kernels and writes the run log
    helped = subprocess.run(
        [sys.executable, "-m", "imdb_sentiment.pipeline", "ingest", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: python -m imdb_sentiment.pipeline ingest ")
