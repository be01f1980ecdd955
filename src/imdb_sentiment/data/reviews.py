"""The reviews table that ingest writes and later stages read: one row per review.

Columns: split (train | test | unsup), id (within its class folder), rating,
label (1 positive, 0 negative, -1 unlabeled), movie (IMDb title id), text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imdb_sentiment.core.errors import PipelineError, shown

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
    """Values the later stages rely on: integer ids, ratings and labels; splits, movie ids
    and texts as strings; known splits, labels that fit them, and one row per review."""
    for column in ("id", "rating", "label"):
        dtype = frame[column].dtype
        # pandas' nullable integers (Int8 and kin) may hold missing values
        if not (isinstance(dtype, np.dtype) and dtype.kind in "iu"):
            raise PipelineError(
                f"{path}: column {column!r} holds {dtype} values, not plain integers"
            )
    for column in ("split", "movie", "text"):
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            raise PipelineError(f"{path}: column {column!r} is categorical, not plain strings")
    for column in ("split", "movie"):
        not_str = np.array([not isinstance(value, str) for value in frame[column]], dtype=bool)
        if not_str.any():
            value = frame[column].iloc[int(np.argmax(not_str))]
            raise PipelineError(f"{path}: column {column!r} holds {shown(value)}, not a string")
    bad_split = ~frame["split"].isin(SPLIT_LABELS)
    if bad_split.any():
        raise PipelineError(f"{path}: unknown split {shown(frame['split'][bad_split].iloc[0])}")
    bad_label = [
        label not in SPLIT_LABELS[split] for label, split in zip(frame["label"], frame["split"])
    ]
    if any(bad_label):
        row = frame[bad_label].iloc[0]
        raise PipelineError(
            f"{path}: {row['split']} review {row['id']} has label "
            f"{int(row['label'])}, not one of {sorted(SPLIT_LABELS[row['split']])}"
        )
    repeated = frame.duplicated(["split", "label", "id"])
    if repeated.any():
        row = frame[repeated].iloc[0]
        raise PipelineError(
            f"{path}: {row['split']} review {row['id']} (label {row['label']}) is in the "
            "table more than once"
        )
    not_text = np.array([not isinstance(text, str) for text in frame["text"]], dtype=bool)
    if not_text.any():
        row = frame.iloc[int(np.argmax(not_text))]
        raise PipelineError(f"{path}: {row['split']} review {row['id']} has no text")
