"""The reviews table that ingest writes and later stages read: one row per review.

Columns: split (train | test | unsup), id (within its class folder), rating,
label (1 positive, 0 negative, -1 unlabeled), movie (IMDb title id), text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imdb_sentiment.core.errors import PipelineError

COLUMNS = ["split", "id", "rating", "label", "movie", "text"]
SPLIT_LABELS = {"train": {0, 1}, "test": {0, 1}, "unsup": {-1}}


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
    check(frame, path)
    return frame


def check(frame: pd.DataFrame, path: str | Path) -> None:
    """Values the later stages rely on: known splits, labels that fit them, texts as strings."""
    bad_split = ~frame["split"].isin(SPLIT_LABELS)
    if bad_split.any():
        raise PipelineError(f"{path}: unknown split {frame['split'][bad_split].iloc[0]!r}")
    allowed = frame["split"].map(SPLIT_LABELS)
    bad_label = [label not in ok for label, ok in zip(frame["label"], allowed)]
    if any(bad_label):
        row = frame[bad_label].iloc[0]
        raise PipelineError(
            f"{path}: {row['split']} review {row['id']} has label "
            f"{row['label']!r}, not one of {sorted(SPLIT_LABELS[row['split']])}"
        )
    not_text = ~frame["text"].map(lambda t: isinstance(t, str))
    if not_text.any():
        row = frame[not_text].iloc[0]
        raise PipelineError(f"{path}: {row['split']} review {row['id']} has no text")
