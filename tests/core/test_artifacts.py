"""Atomic outputs: complete new outputs, the old ones, or none; nothing else is ever lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from builders import NOT_REGULAR_FILES, not_a_regular_file

from imdb_sentiment.core.artifacts import (
    TMP_MARK,
    atomic_outputs,
    atomic_path,
    json_text,
    read_json,
)
from imdb_sentiment.core.errors import PipelineError


def test_a_file_never_replaces_a_directory(tmp_path):
    target = tmp_path / "results.csv"
    (target / "precious").mkdir(parents=True)
    (target / "precious" / "data.txt").write_text("keep me")
    with pytest.raises(PipelineError, match="is an existing directory; refusing"):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
    assert (target / "precious" / "data.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if TMP_MARK in p.name]


def test_a_directory_output_replaces_the_old_directory_whole(tmp_path):
    target = tmp_path / "plots"
    target.mkdir()
    (target / "stale.csv").write_text("old")
    with atomic_path(target, directory=True) as tmp:
        tmp.mkdir()
        (tmp / "fresh.csv").write_text("new")
    assert [p.name for p in target.iterdir()] == ["fresh.csv"]


def test_failure_keeps_every_old_output(tmp_path):
    model, params = tmp_path / "model.keras", tmp_path / "model.params.json"
    model.write_text("old model")
    params.write_text("old params")
    with pytest.raises(RuntimeError):
        with atomic_outputs((model, False), (params, False)) as (new_model, new_params):
            new_model.write_text("new model")
            raise RuntimeError("training failed")
    assert model.read_text() == "old model" and params.read_text() == "old params"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "model.params.json"]


def test_unwritable_place_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PipelineError, match="cannot write"):
        with atomic_path(blocker / "sub" / "out.json") as tmp:
            tmp.write_text("{}")


def test_non_finite_numbers_are_never_written_as_json():
    with pytest.raises(PipelineError, match="non-finite"):
        json_text({"loss": float("nan")})


def test_read_json_names_a_broken_file(tmp_path):
    broken = tmp_path / "m.json"
    broken.write_text("{not json")
    with pytest.raises(PipelineError, match="cannot read .*m.json as JSON"):
        read_json(broken)
    with pytest.raises(PipelineError, match="file not found"):
        read_json(tmp_path / "absent.json")


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from imdb_sentiment.core.artifacts import atomic_outputs
    first, second = Path(sys.argv[1]), Path(sys.argv[2])
    with atomic_outputs((first, True), (second, False)) as (a, b):
        a.mkdir()
        (a / "part").write_text("new")
        b.write_text("new")
        print("ready", flush=True)
        time.sleep(float(sys.argv[3]))
""")


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.05, 30.0])
def test_sigkill_at_any_moment_leaves_no_mix_of_old_and_new(tmp_path, delay):
    """Kill a writer of a pair of outputs at various moments: never one old and one new
    output (a missing one makes DVC re-run the stage); the next write sweeps the killed
    writer's temporaries."""
    first, second = tmp_path / "processed", tmp_path / "report.json"
    first.mkdir()
    (first / "part").write_text("old")
    second.write_text("old")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(first), str(second), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "ready"
    if delay > 1:
        proc.send_signal(signal.SIGKILL)
    else:
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = (
        (first / "part").read_text() if (first / "part").exists() else None,
        second.read_text() if second.exists() else None,
    )
    assert set(state) not in ({"old", "new"},), state
    with atomic_outputs((first, True), (second, False)) as (a, b):
        a.mkdir()
        (a / "part").write_text("again")
        b.write_text("again")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed", "report.json"]


def test_read_json_names_a_file_nested_too_deep_or_too_large(tmp_path, monkeypatch):
    from imdb_sentiment.core import artifacts

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PipelineError, match="cannot read .*deep.json as JSON: nested too deep"):
        read_json(deep)
    monkeypatch.setattr(artifacts, "MAX_JSON_BYTES", 100)
    large = tmp_path / "large.json"
    large.write_text("[" + "1, " * 100 + "1]")
    with pytest.raises(
        PipelineError, match=r"large.json holds more than 100 bytes, the limit for a JSON file"
    ):
        read_json(large)


@pytest.mark.parametrize("kind", NOT_REGULAR_FILES)
def test_read_json_names_a_path_that_is_not_a_regular_file_without_reading(tmp_path, kind):
    path, expected = not_a_regular_file(tmp_path, kind)
    with pytest.raises(PipelineError, match=f"{expected}.*, not a JSON file"):
        read_json(path)


def test_read_json_refuses_a_key_given_twice(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"accuracy": 0.9, "accuracy": 0.1}')
    with pytest.raises(PipelineError, match="names the same key twice"):
        read_json(path)
