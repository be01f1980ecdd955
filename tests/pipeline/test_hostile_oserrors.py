"""Operating-system errors (a full disk, a file too large, no permission, a read-only
place) in every stage: one line on stderr, exit status 2, and the old outputs untouched.

The stages run as dvc.yaml runs them (`python -m imdb_sentiment.pipeline NAME`) under
a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored), so their writes really fail, with
EFBIG, as they would fail with ENOSPC on a full disk.
"""

from __future__ import annotations

import errno
import importlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from builders import REPO, build_archive, small_model, write_params

from imdb_sentiment.core.artifacts import TMP_MARK, atomic_outputs
from imdb_sentiment.core.errors import PipelineError

STAGES = ("ingest", "preprocess", "train", "evaluate", "export")
NO_SPACE = os.strerror(errno.ENOSPC)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_reports_an_os_error_in_one_line_and_exit_2(stage, monkeypatch, capsys):
    """Whatever raises it, wherever in the stage."""
    import argparse

    module = importlib.import_module(f"imdb_sentiment.pipeline.{stage}")

    def full_disk(self, args=None, namespace=None):
        raise OSError(errno.ENOSPC, NO_SPACE, "data/interim/reviews.parquet")

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", full_disk)
    with pytest.raises(SystemExit) as exit_info:
        module.main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {stage}: data/interim/reviews.parquet: {NO_SPACE}\n"


@pytest.mark.parametrize(("filename", "named"), [(None, "a.json or .*b"), ("b", "b")])
def test_a_failed_write_names_its_output_and_keeps_the_old_ones(tmp_path, filename, named):
    first, second = tmp_path / "a.json", tmp_path / "b"
    first.write_text("old a")
    second.mkdir()
    (second / "part").write_text("old b")
    with pytest.raises(PipelineError, match=f"^cannot write .*{named}: {NO_SPACE}$"):
        with atomic_outputs((first, False), (second, True)) as (new_first, new_second):
            new_first.write_text("new a")
            new_second.mkdir()
            raise OSError(
                errno.ENOSPC, NO_SPACE, None if filename is None else str(new_second / "part")
            )
    assert first.read_text() == "old a" and (second / "part").read_text() == "old b"
    assert not [p for p in tmp_path.iterdir() if TMP_MARK in p.name]


def test_a_failed_read_inside_the_outputs_block_is_not_called_a_write(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_outputs((tmp_path / "out.json", False)):
            (tmp_path / "missing-input.csv").read_text()
    with pytest.raises(OSError, match="network is down"):  # a download's, retried by it
        with atomic_outputs((tmp_path / "out.json", False)):
            raise OSError("network is down")


@pytest.mark.parametrize("failing_call", [2, 3, 4])
def test_a_failed_commit_puts_the_old_outputs_back(tmp_path, monkeypatch, failing_call):
    """Old outputs go aside, new ones in: a rename failing anywhere leaves the old set."""
    from imdb_sentiment.core import artifacts

    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("old a")
    second.write_text("old b")
    calls = []
    real_replace = os.replace

    def replace(source, target):
        calls.append(target)
        if len(calls) == failing_call:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))
        real_replace(source, target)

    monkeypatch.setattr(artifacts.os, "replace", replace)
    with pytest.raises(PipelineError, match="^cannot write .*: Read-only file system$"):
        with atomic_outputs((first, False), (second, False)) as (new_first, new_second):
            new_first.write_text("new a")
            new_second.write_text("new b")
    monkeypatch.undo()
    assert (first.read_text(), second.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def run_stage(stage: str, args: list[str], cwd: Path, max_file_bytes: int):
    """`python -m imdb_sentiment.pipeline STAGE ARGS` with files limited to `max_file_bytes`."""

    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "imdb_sentiment.pipeline", stage, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit_files,
        timeout=300,
    )


def assert_one_line_failure(done: subprocess.CompletedProcess, stage: str, output: str) -> None:
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {stage}: cannot write"), done.stderr[-3000:]
    assert output in lines[-1] and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "File too large" in lines[-1], lines[-1]


def old_outputs(*paths: Path) -> dict[Path, bytes]:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"old " + path.name.encode())
    return {path: path.read_bytes() for path in paths}


def test_ingest_that_cannot_write_keeps_the_old_outputs(tmp_path):
    archive = build_archive(tmp_path / "raw" / "aclImdb_v1.tar.gz")
    params = write_params(tmp_path / "params.yaml", archive=str(archive))
    old = old_outputs(tmp_path / "data" / "reviews.parquet", tmp_path / "metrics" / "data.json")
    done = run_stage(
        "ingest",
        [
            "--params",
            str(params),
            "--reviews",
            "data/reviews.parquet",
            "--report",
            "metrics/data.json",
        ],
        tmp_path,
        4096,
    )
    assert_one_line_failure(done, "ingest", "reviews.parquet")
    assert {path: path.read_bytes() for path in old} == old


@pytest.mark.slow
def test_preprocess_that_cannot_write_keeps_the_old_outputs(tmp_path):
    from imdb_sentiment.pipeline import ingest

    archive = build_archive(tmp_path / "raw" / "aclImdb_v1.tar.gz")
    params = write_params(tmp_path / "params.yaml", archive=str(archive))
    ingest.main(
        [
            "--params",
            str(params),
            "--reviews",
            str(tmp_path / "reviews.parquet"),
            "--report",
            str(tmp_path / "data.json"),
        ]
    )
    old = old_outputs(tmp_path / "processed" / "train.npz", tmp_path / "preprocess.json")
    done = run_stage(
        "preprocess",
        [
            "--params",
            str(params),
            "--reviews",
            "reviews.parquet",
            "--out",
            "processed",
            "--report",
            "preprocess.json",
        ],
        tmp_path,
        2048,
    )
    assert_one_line_failure(done, "preprocess", "processed")
    assert {path: path.read_bytes() for path in old} == old
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == ["train.npz"]


@pytest.mark.slow
def test_export_that_cannot_write_keeps_the_old_model_directory(tmp_path):

    model = small_model(tmp_path / "model.keras")
    old = old_outputs(tmp_path / "serving" / "1" / "saved_model.pb")
    done = run_stage("export", ["--model", str(model), "--out", "serving"], tmp_path, 8192)
    assert_one_line_failure(done, "export", "serving")
    assert {path: path.read_bytes() for path in old} == old
