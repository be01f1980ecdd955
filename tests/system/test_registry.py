"""The model registry and shared experiments, as DVC users work: releases are git tags
`<artifact>@vX.Y.Z` on a repository whose dvc.yaml declares the artifacts, and
`dvc artifacts get` downloads one from the DVC remote; an experiment run in one clone
reaches another through `dvc exp push` / `dvc exp pull`. A bare git repository and a
local folder stand in for the git host and the bucket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from builders import (
    REPO,
    clone,
    copy_repo,
    dvc,
    repro_and_commit,
    run,
    write_params,
)

from imdb_sentiment.core.artifacts import read_json

# its module fixture is expensive: one worker runs the whole module (make test uses xdist)
pytestmark = pytest.mark.xdist_group("registry")

ARTIFACTS = {"sentiment-keras": "models/model.keras", "sentiment-serving": "models/serving"}


def release(repo: Path, name: str, version: str) -> None:
    """Register a version the way GTO and DVC Studio do: an annotated tag `<name>@<version>`."""
    run(["git", "tag", "-a", f"{name}@{version}", "-m", f"Release {name} {version}"], repo)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def published(reproduced_repo, tmp_path_factory) -> dict[str, Path | bytes]:
    """A project pushed to a bare git `origin` and a DVC remote: v1.0.0 of both artifacts,
    then a retrained v1.1.0 of the Keras model (two epochs instead of one) on main."""
    root = tmp_path_factory.mktemp("registry")
    storage = root / "storage"
    storage.mkdir()
    origin = root / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], root)
    repo = copy_repo(reproduced_repo, root / "repo")
    run(["git", "remote", "add", "origin", str(origin)], repo)
    dvc("remote", "add", "-d", "storage", str(storage), cwd=repo)
    repro_and_commit(repo, "first model")  # commits the remote: the model is already there
    for name in ARTIFACTS:
        release(repo, name, "v1.0.0")
    first = (repo / "models" / "model.keras").read_bytes()
    write_params(
        repo / "params.yaml",
        {
            "train": {
                "units": [8],
                "embedding_dim": 8,
                "epochs": 2,
                "batch_size": 16,
                "distill_unlabeled": False,
            }
        },
    )
    repro_and_commit(repo, "two epochs")
    release(repo, "sentiment-keras", "v1.1.0")
    dvc("push", "--all-commits", cwd=repo)
    run(["git", "push", "-q", "--follow-tags", "origin", "HEAD:refs/heads/main"], repo)
    return {
        "origin": origin,
        "repo": repo,
        "storage": storage,
        "v1.0.0": first,
        "v1.1.0": (repo / "models" / "model.keras").read_bytes(),
    }


def test_dvc_yaml_declares_both_models():
    artifacts = yaml.safe_load((REPO / "dvc.yaml").read_text())["artifacts"]
    assert {name: a["path"] for name, a in artifacts.items()} == ARTIFACTS
    for entry in artifacts.values():
        assert entry["type"] == "model" and entry["desc"] and entry["labels"]


@pytest.mark.slow
def test_artifacts_get_downloads_the_tagged_version_of_the_keras_model(published, tmp_path):
    from imdb_sentiment.inference.scoring import load_model, predict_texts

    assert published["v1.0.0"] != published["v1.1.0"]
    for version in ("v1.0.0", "v1.1.0"):
        out = tmp_path / version / "model.keras"
        out.parent.mkdir()
        dvc(
            "artifacts",
            "get",
            str(published["origin"]),
            "sentiment-keras",
            "--rev",
            version,
            "-o",
            str(out),
            cwd=tmp_path,
        )
        assert out.read_bytes() == published[version], version
    probs = predict_texts(load_model(tmp_path / "v1.0.0" / "model.keras"), ["great", "awful"])
    assert probs.shape == (2,) and ((probs >= 0) & (probs <= 1)).all()
    latest = tmp_path / "latest.keras"  # no --rev: the highest version
    dvc(
        "artifacts",
        "get",
        str(published["origin"]),
        "sentiment-keras",
        "-o",
        str(latest),
        cwd=tmp_path,
    )
    assert latest.read_bytes() == published["v1.1.0"]


@pytest.mark.slow
def test_artifacts_get_downloads_the_savedmodel_folder(published, tmp_path):
    out = tmp_path / "serving"
    dvc(
        "artifacts",
        "get",
        str(published["origin"]),
        "sentiment-serving",
        "--rev",
        "v1.0.0",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert (out / "1" / "saved_model.pb").is_file()
    # the same files as a checkout of the tag
    tagged = clone(published["origin"], tmp_path / "tagged")
    run(["git", "checkout", "-q", "sentiment-serving@v1.0.0"], tagged)
    dvc("pull", "models/serving", cwd=tagged)
    assert tree(out) == tree(tagged / "models" / "serving")


@pytest.mark.slow
def test_unknown_version_is_an_error(published, tmp_path):
    result = dvc(
        "artifacts",
        "get",
        str(published["origin"]),
        "sentiment-keras",
        "--rev",
        "v9.9.9",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0 and not any(tmp_path.iterdir())


@pytest.mark.slow
def test_experiment_shared_through_git_and_dvc_remotes(published, tmp_path):
    origin = published["origin"]
    alice = clone(origin, tmp_path / "alice")
    # main trains 2 epochs (v1.1.0)
    ran = dvc("exp", "run", "--pull", "-n", "epochs-3", "-S", "train.epochs=3", cwd=alice).stdout
    assert "Running stage 'train'" in ran and "Running stage 'preprocess'" not in ran, ran
    dvc("exp", "push", "origin", "epochs-3", cwd=alice)

    bob = clone(origin, tmp_path / "bob")
    assert "epochs-3" in dvc("exp", "list", "origin", cwd=bob).stdout
    dvc("exp", "pull", "origin", "epochs-3", cwd=bob)
    shown = json.loads(dvc("exp", "show", "--json", cwd=bob).stdout)
    experiments = {e["name"]: e for rev in shown for e in (rev.get("experiments") or [])}
    assert "epochs-3" in experiments, shown
    params = experiments["epochs-3"]["revs"][0]["data"]["params"]["params.yaml"]["data"]
    assert params["train"]["epochs"] == 3
    table = dvc(
        "exp", "show", "--md", "--keep", "Experiment|train.epochs", "--drop", ".*", cwd=bob
    ).stdout
    assert "epochs-3" in table and "| 3 " in table, table
    dvc("exp", "apply", "epochs-3", cwd=bob)  # its outputs came with `exp pull`
    assert read_json(bob / "models" / "model.params.json")["fit"]["epochs_run"] == 3
    assert (bob / "models" / "model.keras").read_bytes() != published["v1.1.0"]
