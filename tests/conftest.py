"""Shared fixtures: tiny archives in the aclImdb layout, and a tiny trained model.

Nothing here touches the repository's own data/, models/, metrics/ or dvc.lock.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "checks"  # the hand-made check sets the evaluate stage scores (read only)

POSITIVE = ["great", "wonderful", "brilliant", "loved", "superb", "moving", "excellent"]
NEGATIVE = ["awful", "terrible", "boring", "hated", "worst", "dull", "waste"]
NEUTRAL = ["the", "movie", "film", "plot", "actor", "scene", "story", "it", "was", "and",
           "a", "director", "ending", "music", "character"]


def review_text(rng: random.Random, label: str) -> str:
    """A synthetic review: neutral filler with sentiment words, HTML breaks sometimes."""
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(8, 40))]
    cue = POSITIVE if label == "pos" else NEGATIVE if label == "neg" else POSITIVE + NEGATIVE
    for _ in range(rng.randint(2, 5)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.5:
        text = text.replace(" ", " <br /><br /> ", 1)
    return text


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def build_archive(path: Path, per_class: int = 40, unsup: int = 10, seed: int = 0,
                  movies_per_class: int = 10, extra=None) -> Path:
    """Write a gzipped tar in the aclImdb v1 layout; `extra(tar)` may add members."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        add_file(archive, "aclImdb/README", b"tiny test archive\n")
        for split in ("train", "test"):
            kinds = ("pos", "neg", "unsup") if split == "train" else ("pos", "neg")
            for kind in kinds:
                count = unsup if kind == "unsup" else per_class
                urls = []
                for review_id in range(count):
                    if kind == "pos":
                        rating = rng.randint(7, 10)
                    elif kind == "neg":
                        rating = rng.randint(1, 4)
                    else:
                        rating = 0
                    text = review_text(rng, kind)
                    add_file(archive, f"aclImdb/{split}/{kind}/{review_id}_{rating}.txt",
                             text.encode("utf-8"))
                    movie = 1000 * (split == "test") + review_id % movies_per_class
                    urls.append(f"http://www.imdb.com/title/tt{movie:07d}/usercomments")
                add_file(archive, f"aclImdb/{split}/urls_{kind}.txt",
                         ("\n".join(urls) + "\n").encode())
        if extra is not None:
            extra(archive)
    return path


TINY_PARAMS = {
    "seed": 7,
    "ingest": {"expected_per_class": 40},
    "preprocess": {"val_fraction": 0.2, "vocab_size": 100, "max_len": 32, "min_count": 1,
                   "pretrain_dim": 8},
    # distillation and the final fit on validation (the defaults) have their own tests; the
    # other tiny runs train on the training part's labels only, and validate
    "train": {"units": [8], "embedding_dim": 8, "word_pair_buckets": 64, "word_pair_dim": 4,
              "conv_filters": 8, "epochs": 1, "batch_size": 16, "distill_unlabeled": False,
              "fit_on_validation": False},
    "evaluate": {},
}


def project_params(section: str, **overrides):
    """A section of the repository's params.yaml as its dataclass, with `overrides`."""
    from imdb_sentiment.core import params as P

    return P.from_dict(section, {**P.read_yaml(REPO / "params.yaml")[section], **overrides})


def write_params(path: Path, overrides: dict | None = None, archive: str | None = None) -> Path:
    """A params.yaml for tiny runs: the repo's own file with tiny overrides merged in."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in {**TINY_PARAMS, **(overrides or {})}.items():
        if isinstance(values, dict):
            params.setdefault(section, {}).update(values)
        else:
            params[section] = values
    if archive is not None:
        params["ingest"]["archive"] = archive
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def unpinned_environment():
    """Code under test may pin the numeric kernels in os.environ (the CLI and `api` do);
    undo it after each test, so later subprocesses start as the user's would."""
    from imdb_sentiment.core.startup import PINNED

    before = {name: os.environ.get(name) for name in PINNED}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def tiny_archive(tmp_path: Path) -> Path:
    return build_archive(tmp_path / "raw" / "aclImdb_v1.tar.gz")


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> dict[str, Path]:
    """Run the four stage mains once on a tiny archive; returns the artifact paths."""
    from imdb_sentiment.pipeline import evaluate, ingest, preprocess, train

    root = tmp_path_factory.mktemp("pipeline")
    archive = build_archive(root / "raw" / "aclImdb_v1.tar.gz", per_class=60, movies_per_class=15)
    overrides = {
        "ingest": {"expected_per_class": 60},
        "train": {**TINY_PARAMS["train"], "epochs": 6},
    }
    params = write_params(root / "params.yaml", overrides, archive=str(archive))
    paths = {
        "root": root,
        "params": params,
        "reviews": root / "data" / "reviews.parquet",
        "data_report": root / "metrics" / "data.json",
        "processed": root / "data" / "processed",
        "preprocess_report": root / "metrics" / "preprocess.json",
        "model": root / "models" / "model.keras",
        "live": root / "metrics" / "train",
        "eval": root / "metrics" / "eval.json",
        "robustness": root / "metrics" / "robustness.json",
        "behaviour": root / "metrics" / "behaviour.json",
        "eval_plots": root / "metrics" / "eval",
    }
    p = ["--params", str(params)]
    ingest.main(p + ["--reviews", str(paths["reviews"]), "--report", str(paths["data_report"])])
    preprocess.main(p + ["--reviews", str(paths["reviews"]), "--out", str(paths["processed"]),
                         "--report", str(paths["preprocess_report"])])
    cwd = os.getcwd()
    os.chdir(root)  # DVCLive looks for a git/DVC repo from the working directory
    try:
        train.main(p + ["--data", str(paths["processed"]), "--reviews", str(paths["reviews"]),
                        "--model", str(paths["model"]),
                        "--live", str(paths["live"])])
    finally:
        os.chdir(cwd)
    evaluate.main(p + ["--reviews", str(paths["reviews"]), "--model", str(paths["model"]),
                       "--live", str(paths["live"]), "--metrics", str(paths["eval"]),
                       "--checks", str(CHECKS), "--robustness", str(paths["robustness"]),
                       "--behaviour", str(paths["behaviour"]),
                       "--plots", str(paths["eval_plots"])])
    return paths


@pytest.fixture(scope="session")
def tiny_model(tiny_pipeline):
    """The tiny pipeline's end-to-end model, loaded."""
    from imdb_sentiment.inference.scoring import load_model

    return load_model(tiny_pipeline["model"])


# The suite's own timing, for `make timings` (tools/timings.py): a whole-suite session writes
# how long it took to logs/tests/{full,fast}.json (git-ignored); a partial one writes nothing.
_SESSION_STARTED: list[float] = []


def pytest_sessionstart(session):
    import time

    _SESSION_STARTED.append(time.perf_counter())


def pytest_sessionfinish(session, exitstatus):
    import json
    import time
    from datetime import datetime, timezone

    invocation = session.config.invocation_params.args
    markexpr = session.config.getoption("markexpr") or ""
    partial = session.config.getoption("keyword") or any(
        not str(arg).startswith("-") and str(arg) != markexpr for arg in invocation)
    tier = {"": "full", "not slow": "fast"}.get(markexpr)
    if partial or tier is None or not _SESSION_STARTED or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    counts = {key: len(reporter.stats.get(key, [])) for key in ("passed", "failed", "skipped",
                                                                "error")} if reporter else {}
    entry = {"name": tier, "seconds": round(time.perf_counter() - _SESSION_STARTED[0], 1),
             "exit_status": int(exitstatus), "cpus": os.cpu_count(), **counts,
             "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    try:
        folder = REPO / "logs" / "tests"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{tier}.json").write_text(json.dumps(entry, indent=2) + "\n")
    except OSError:
        pass
