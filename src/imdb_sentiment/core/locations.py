"""Where the command line and the web app find the model and its metrics by default.

An environment variable wins; then the pipeline's output under the current
directory; then the one in the project this package was installed from, so the
commands work from any directory.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_ENV, METRICS_ENV = "IMDB_SENTIMENT_MODEL", "IMDB_SENTIMENT_METRICS"
MODEL, METRICS = Path("models/model.keras"), Path("metrics/eval.json")
PROJECT = Path(__file__).resolve().parents[3]  # src/imdb_sentiment/core/ -> the checkout


def _find(relative: Path, env: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    if relative.exists() or not (PROJECT / relative).exists():
        return relative
    return PROJECT / relative


def default_model() -> Path:
    """$IMDB_SENTIMENT_MODEL, else models/model.keras here, else the project's."""
    return _find(MODEL, MODEL_ENV)


def default_metrics() -> Path:
    """$IMDB_SENTIMENT_METRICS, else metrics/eval.json here, else the project's."""
    return _find(METRICS, METRICS_ENV)
