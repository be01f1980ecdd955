"""The reviews table that ingest writes: a damaged one is named, never a traceback."""

from __future__ import annotations

import pandas as pd
import pytest

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.data import reviews


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "split": ["train", "train", "test", "unsup"],
            "id": pd.array([0, 1, 0, 0], dtype="int32"),
            "rating": pd.array([8, 2, 9, 0], dtype="int8"),
            "label": pd.array([1, 0, 1, -1], dtype="int8"),
            "movie": ["tt1", "tt2", "tt3", "tt4"],
            "text": ["good", "bad", "fine", "what"],
        }
    )


def test_a_well_formed_table_passes():
    reviews.check(table(), "t.parquet")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda t: t.assign(movie=[None, "tt2", "tt3", "tt4"]),
            "column 'movie' holds (None|nan), not a string",
        ),
        (lambda t: t.assign(split=t["split"].astype("category")), "'split' is categorical"),
        (lambda t: t.assign(id=t["id"].astype(float)), "'id' holds float64 values"),
        (
            lambda t: t.assign(label=pd.array([1, 0, None, -1], dtype="Int8")),
            "'label' holds Int8 values, not plain integers",
        ),
        (lambda t: pd.concat([t, t.iloc[[0]]]), "train review 0 .label 1. is in the table more"),
        (lambda t: t.assign(label=pd.array([1, 0, 7, -1], dtype="int8")), "has label 7, not"),
        (lambda t: t.assign(split=["train", "train", "\x1b[2J", "unsup"]), "split '\\\\x1b"),
    ],
)
def test_a_damaged_table_is_named(damage, message):
    with pytest.raises(PipelineError, match=message):
        reviews.check(damage(table()), "t.parquet")
