"""Where things are: the pipeline's paths, read from dvc.yaml, and the defaults the command
line and the web app take from them.

dvc.yaml's `vars` hold every path of the pipeline, once: the stages receive theirs as
arguments, and everything else (the command line, the app, the tools, the benchmarks) reads
them here. For the default model and metrics an environment variable wins; then the
pipeline's output under the current directory (a dvc.yaml here that is not this pipeline's is
ignored); then the one in the project this package was installed from, so the commands work
from any directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from imdb_sentiment.core.errors import PipelineError

PIPELINE_FILE = "dvc.yaml"
MODEL_ENV, METRICS_ENV = "IMDB_SENTIMENT_MODEL", "IMDB_SENTIMENT_METRICS"
PROJECT = Path(__file__).resolve().parents[3]  # src/imdb_sentiment/core/ -> the checkout
MAX_PIPELINE_BYTES = 1 << 20  # the project's dvc.yaml is a few KB


def pipeline_paths(root: str | Path = PROJECT) -> dict[str, Path]:
    """The paths dvc.yaml's `vars` name, relative to the project `root`."""
    import yaml

    path = Path(root) / PIPELINE_FILE
    try:
        if path.stat().st_size > MAX_PIPELINE_BYTES:
            raise PipelineError(f"{path} is over {MAX_PIPELINE_BYTES} bytes: not a pipeline file")
        pipeline = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = pipeline["vars"]
        paths = next(entry["paths"] for entry in entries if "paths" in entry)
        return {str(key): Path(value) for key, value in paths.items()}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PipelineError(f"cannot read the pipeline's paths from {path}: {reason}") from None
    except (KeyError, TypeError, AttributeError, StopIteration):
        raise PipelineError(f"{path} has no `vars` entry with the pipeline's `paths`") from None


def _find(key: str, env: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    here, project = _named_in(Path("."), key), _named_in(PROJECT, key)
    if here is None and project is None:
        raise PipelineError(
            f"no {PIPELINE_FILE} of this pipeline here or in {PROJECT} to say where its "
            f"outputs are: name one, or set ${env}"
        )
    relative = cast(Path, here if here is not None else project)
    if project is None or relative.exists() or not (PROJECT / project).exists():
        return relative
    return PROJECT / project


def _named_in(root: Path, key: str) -> Path | None:
    """The path that `root`'s dvc.yaml gives `key`, relative to `root`; None where `root` holds
    no dvc.yaml of this pipeline (none at all, or another project's: a user's own DVC
    project is no reason to fail)."""
    if not (root / PIPELINE_FILE).is_file():
        return None
    try:
        return pipeline_paths(root).get(key)
    except PipelineError:
        return None


def default_model() -> Path:
    """$IMDB_SENTIMENT_MODEL, else dvc.yaml's model here, else the project's."""
    return _find("model", MODEL_ENV)


def default_metrics() -> Path:
    """$IMDB_SENTIMENT_METRICS, else dvc.yaml's test metrics here, else the project's."""
    return _find("eval", METRICS_ENV)
