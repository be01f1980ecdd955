"""Sharing through a DVC remote: push from one checkout, and a fresh clone gets the
outputs without retraining. A local folder stands in for S3, GCS or Azure: DVC
treats every remote the same way once its plugin is installed."""

from __future__ import annotations

import pytest
from builders import CLONE_LACKS, clone, copy_repo, dvc, run

from imdb_sentiment.core.artifacts import read_json

pytestmark = pytest.mark.slow  # dvc repro, push, pull and exp run in temporary repositories


def test_push_then_a_fresh_clone_pulls_instead_of_retraining(reproduced_repo, tmp_path):
    storage = tmp_path / "storage"  # the "bucket"
    storage.mkdir()
    repo = copy_repo(reproduced_repo, tmp_path / "repo")  # reproduced and committed
    dvc("remote", "add", "-d", "shared", str(storage), cwd=repo)
    assert "Running stage" not in dvc("repro", cwd=repo).stdout
    run(["git", "add", "-A"], repo)  # .dvc/config (the remote)
    run(["git", "commit", "-qm", "the remote"], repo)
    dvc("push", cwd=repo)
    assert any(storage.rglob("*")), "push wrote nothing to the remote"
    eval_json = (repo / "metrics" / "eval.json").read_text()

    # a colleague: clone, pull, and nothing is stale
    pulled = clone(repo, tmp_path / "colleague")
    remotes = dvc("remote", "list", cwd=pulled).stdout
    assert "shared" in remotes and str(storage) in remotes
    dvc("pull", cwd=pulled)
    assert all((pulled / path).is_file() for path in CLONE_LACKS)
    assert "up to date" in dvc("status", cwd=pulled).stdout
    second = dvc("repro", cwd=pulled)
    assert "Running stage" not in second.stdout

    # CI: `repro --pull` fetches what unchanged stages produced instead of running them
    ci = clone(repo, tmp_path / "ci")
    result = dvc("repro", "--pull", cwd=ci)
    assert "Running stage" not in result.stdout, result.stdout
    assert all((ci / path).is_file() for path in CLONE_LACKS)
    assert (ci / "metrics" / "eval.json").read_text() == eval_json

    # an experiment on a fresh clone: only the stage whose params changed, and those after it, run
    exp = clone(repo, tmp_path / "exp")
    result = dvc("exp", "run", "--pull", "-S", "train.epochs=2", cwd=exp)
    ran = result.stdout
    for stage in ("train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in ran, ran
    for stage in ("ingest", "preprocess"):
        assert f"Running stage '{stage}'" not in ran, ran
    assert read_json(exp / "models" / "model.params.json")["fit"]["epochs_run"] == 2
