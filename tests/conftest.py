"""Shared fixtures (a tiny trained model), the system tests' mark, and the suite's timing.

Nothing here touches the repository's own data/, models/, metrics/ or dvc.lock.
"""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path

import pytest
from builders import (
    CHECKS,
    FIRST_REPRO,
    REPO,
    TINY_PARAMS,
    build_archive,
    make_repo,
    repro_and_commit,
    write_params,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SYSTEM = Path(__file__).parent / "system"


def pytest_collection_modifyitems(config, items):
    """The system tests (DVC runs, determinism, registry, CI, install) are slow by where they
    live, so the quick tier leaves them out without a mark on each; modules with slow tests
    go first."""
    for item in items:
        if SYSTEM in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)
    # The system tests, then the other modules with slow tests, then the rest, each module
    # kept whole (its module fixtures are made once): spread over xdist workers, the long
    # tests start early instead of ending the run on one busy worker while the others wait.
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (SYSTEM not in item.path.parents, item.path not in slow_modules))


_ORIGINAL_ENVIRONMENT = dict(os.environ)


@pytest.fixture(autouse=True)
def unpinned_environment():
    """Code under test may pin the numeric kernels in os.environ (the CLI and `api` do, also
    inside module-scoped fixtures); after each test they are as the session found them, so
    later subprocesses start as the user's would."""
    from imdb_sentiment.core.startup import PINNED

    yield
    for name in PINNED:
        if name in _ORIGINAL_ENVIRONMENT:
            os.environ[name] = _ORIGINAL_ENVIRONMENT[name]
        else:
            os.environ.pop(name, None)


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
    preprocess.main(
        p
        + [
            "--reviews",
            str(paths["reviews"]),
            "--out",
            str(paths["processed"]),
            "--report",
            str(paths["preprocess_report"]),
        ]
    )
    cwd = os.getcwd()
    os.chdir(root)  # DVCLive looks for a git/DVC repo from the working directory
    try:
        train.main(
            p
            + [
                "--data",
                str(paths["processed"]),
                "--model",
                str(paths["model"]),
                "--live",
                str(paths["live"]),
            ]
        )
    finally:
        os.chdir(cwd)
    evaluate.main(
        [
            "--reviews",
            str(paths["reviews"]),
            "--model",
            str(paths["model"]),
            "--live",
            str(paths["live"]),
            "--metrics",
            str(paths["eval"]),
            "--checks",
            str(CHECKS),
            "--robustness",
            str(paths["robustness"]),
            "--behaviour",
            str(paths["behaviour"]),
            "--plots",
            str(paths["eval_plots"]),
        ]
    )
    return paths


@pytest.fixture(scope="session")
def reproduced_repo(tmp_path_factory, worker_id: str) -> Path:
    """A scratch git + DVC repository of the pipeline on the tiny archive, reproduced by
    `dvc repro` and committed once per session, shared by the xdist workers; tests read it
    and work in copies (`copy_repo`). The first `dvc repro`'s output is in FIRST_REPRO beside
    it."""
    from filelock import FileLock

    if worker_id == "master":  # no xdist
        root = tmp_path_factory.mktemp("reproduced")
    else:  # the session's own temporary folder, above each worker's
        root = tmp_path_factory.getbasetemp().parent / "reproduced"
    repo = root / "repo"
    root.mkdir(exist_ok=True)
    with FileLock(str(root / "building.lock")):
        if not (root / FIRST_REPRO).is_file():
            make_repo(repo, build_archive(root / "archive.tar.gz"))
            first = repro_and_commit(repo, "results")
            (root / FIRST_REPRO).write_text(first.stdout + first.stderr)
    return repo


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
    from datetime import datetime

    markexpr = session.config.getoption("markexpr") or ""
    # the whole suite: no test paths named (pytest took testpaths), no -k
    partial = (
        session.config.getoption("keyword")
        or session.config.args_source != pytest.Config.ArgsSource.TESTPATHS
    )
    tier = {"": "full", "not slow": "fast"}.get(markexpr)
    if partial or tier is None or not _SESSION_STARTED or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    counts = (
        {key: len(reporter.stats.get(key, [])) for key in ("passed", "failed", "skipped", "error")}
        if reporter
        else {}
    )
    entry = {
        "name": tier,
        "seconds": round(time.perf_counter() - _SESSION_STARTED[0], 1),
        "exit_status": int(exitstatus),
        "cpus": os.cpu_count(),
        **counts,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        folder = REPO / "logs" / "tests"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{tier}.json").write_text(json.dumps(entry, indent=2) + "\n")
    except OSError:
        pass
