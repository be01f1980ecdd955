"""The reviews table that ingest writes and later stages read: one row per review.

Columns: split (train | test | unsup), id (within its class folder), rating,
label (1 positive, 0 negative, -1 unlabeled), movie (IMDb title id), text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imdb_sentiment.errors import PipelineError

COLUMNS = ["split", "id", "rating", "label", "movie", "text"]


def read(path: str | Path, split: str | None = None) -> pd.DataFrame:
    """The table at `path`, or only its rows of one split; a bad file is a PipelineError."""
    import pyarrow

    filters = [("split", "==", split)] if split is not None else None
    try:
        frame = pd.read_parquet(path, filters=filters)
    except FileNotFoundError:
        raise PipelineError(f"reviews table {path} not found: run the ingest stage first") from None
    except (OSError, ValueError, pyarrow.ArrowException) as err:
        raise PipelineError(f"{path} is not a reviews table: {err}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise PipelineError(f"{path} is not a reviews table: no column {missing[0]!r}")
    return frame
