"""`make reproduce`: a scratch rebuild compared with the committed results, difference by difference."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from builders import REPO, copy_repo, run

from imdb_sentiment.core.errors import PipelineError

spec = importlib.util.spec_from_file_location("reproduce", REPO / "tools" / "reproduce.py")
reproduce = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reproduce)


PATHS = (
    "vars:\n  - paths:\n      model_params: models/model.params.json\n      live: metrics/train\n"
    "      data_report: metrics/data.json\n"
)


def fake_checkout(root, accuracy: float, seconds: float, model_md5: str):
    root.mkdir()
    (root / "dvc.yaml").write_text(PATHS + "metrics:\n  - metrics/eval.json\n")
    (root / "metrics").mkdir()
    (root / "metrics" / "eval.json").write_text(json.dumps({"accuracy": accuracy, "n": 10}))
    (root / "models").mkdir()
    (root / "models" / "model.params.json").write_text(
        json.dumps({"fit": {"train_seconds": seconds, "epochs_run": 2}})
    )
    lock = {
        "stages": {
            "train": {
                "outs": [
                    {"path": "models/model.keras", "md5": model_md5},
                    {"path": "metrics/train", "md5": f"curves-{accuracy}"},
                ]
            }
        }
    }
    (root / "dvc.lock").write_text(json.dumps(lock))
    return root


def test_times_are_not_compared_but_everything_else_is(tmp_path):
    committed = fake_checkout(tmp_path / "a", 0.9, 100.0, "abc")
    same = fake_checkout(tmp_path / "b", 0.9, 250.0, "abc")
    assert reproduce.differences(committed, same) == []
    other = fake_checkout(tmp_path / "c", 0.91, 100.0, "abd")
    rows = reproduce.differences(committed, other)
    assert ("metrics/eval.json", "accuracy", "0.9", "0.91") in rows
    assert ("dvc.lock", "outs models/model.keras md5", "abc", "abd") in rows
    assert ("dvc.lock", "outs metrics/train md5", "curves-0.9", "curves-0.91") in rows
    assert "accuracy" in reproduce.table(rows) and "committed" in reproduce.table(rows)


def test_another_archive_file_is_named_not_counted_as_a_difference(tmp_path):
    committed = fake_checkout(tmp_path / "a", 0.9, 100.0, "abc")
    other = fake_checkout(tmp_path / "b", 0.9, 100.0, "abc")
    for root, sha in ((committed, "repacked"), (other, "official")):
        (root / "metrics" / "data.json").write_text(json.dumps({"archive_sha256": sha, "n": 5}))
        (root / "dvc.yaml").write_text(
            PATHS + "metrics:\n  - metrics/eval.json\n  - metrics/data.json\n"
        )
    assert reproduce.differences(committed, other) == []
    note = reproduce.archive_note(committed, other)
    assert "official" in note and "repacked" in note
    assert reproduce.archive_note(committed, committed) is None


def test_a_named_archive_that_is_missing_is_an_error_not_a_download(tmp_path):
    with pytest.raises(PipelineError, match="--archive .*typo.tar.gz: no such file"):
        reproduce.find_archive(REPO, str(tmp_path / "typo.tar.gz"))


def test_a_missing_repository_is_one_line_and_leaves_no_work_folder(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "reproduce.py"),
            "--repo",
            str(tmp_path / "nowhere"),
            "--workdir",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: params: file not found: {tmp_path / 'nowhere' / 'params.yaml'}"
    ]
    assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_reproduce_fails_on_a_tampered_commit_and_finds_nothing_else(reproduced_repo, tmp_path):
    """One rebuild: of a commit whose committed accuracy was edited. The tool names that one
    difference; the same rebuild matches the faithful commit it came from exactly."""
    repo = copy_repo(reproduced_repo, tmp_path / "repo")
    results = json.loads((repo / "metrics" / "eval.json").read_text())
    results["accuracy"] = 0.123
    (repo / "metrics" / "eval.json").write_text(json.dumps(results))
    run(["git", "commit", "-qam", "a number nobody measured"], repo)
    archive = repo / "data" / "raw" / "aclImdb_v1.tar.gz"
    tool = [sys.executable, str(REPO / "tools" / "reproduce.py"), "--repo", str(repo)]
    bad = subprocess.run(
        tool + ["--archive", str(archive), "--workdir", str(tmp_path / "w")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "metrics/eval.json | accuracy" in bad.stdout and "0.123" in bad.stdout
    assert "1 difference(s)" in bad.stdout, bad.stdout
    assert reproduce.differences(reproduced_repo, tmp_path / "w" / "clone") == []
