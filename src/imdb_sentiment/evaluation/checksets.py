"""The hand-made check sets kept in checks/: contrast edits and short texts, quoted from test reviews.

Each row names the official test review it quotes (`test/pos/<id>_<rating>`), and
the quote must occur in that review word for word, so a check set cannot drift
from the data it claims to come from. checks/README.md says how they were made.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from imdb_sentiment.core.artifacts import read_limited, unique_keys
from imdb_sentiment.core.errors import PipelineError

MAX_CHECK_FILE_BYTES = 4 * 2**20
_REVIEW = re.compile(r"test/(pos|neg)/(\d{1,9})_(\d{1,2})")


@dataclass(frozen=True)
class ContrastPair:
    """A passage of a test review and the same passage minimally edited so its label flips."""

    review: str
    original: str
    edited: str
    original_label: int


@dataclass(frozen=True)
class ShortText:
    """One sentence of a test review, labelled by a reader from the sentence alone."""

    review: str
    text: str
    label: int


def _rows(path: Path, keys: set[str]) -> list[dict]:
    """The JSON objects of a JSON-lines file, each with exactly `keys`."""
    try:
        # split at line feeds only: U+2028 and U+0085 may stand raw inside a JSON string
        content = read_limited(path, MAX_CHECK_FILE_BYTES, "a check set").decode("utf-8")
        content = content.removesuffix("\n")
        lines = content.split("\n") if content else []
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"cannot read check set {path}: {err}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line, object_pairs_hook=unique_keys)
        except ValueError as err:  # JSONDecodeError is one
            raise PipelineError(f"{path}:{number}: not JSON ({err})") from None
        if not isinstance(row, dict) or set(row) != keys:
            raise PipelineError(f"{path}:{number}: needs exactly the keys {sorted(keys)}")
        if not all(
            isinstance(row[k], str) and row[k].strip()
            for k in keys
            if k != "label" and not k.endswith("_label")
        ):
            raise PipelineError(f"{path}:{number}: every text field must be non-empty text")
        rows.append(row)
    if not rows:
        raise PipelineError(f"{path}: no rows")
    return rows


def _label(value: object, where: str) -> int:
    if type(value) is not int or value not in (0, 1):
        raise PipelineError(f"{where}: a label must be 0 or 1, not {value!r}")
    return value


def read_contrast_set(path: str | Path) -> list[ContrastPair]:
    """The contrast pairs in `path`, checked for shape: labels 0/1 and opposite, texts differ."""
    path = Path(path)
    pairs = []
    keys = {"review", "original", "edited", "original_label", "edited_label"}
    for number, row in enumerate(_rows(path, keys), 1):
        where = f"{path}:{number}"
        original, edited = _label(row["original_label"], where), _label(row["edited_label"], where)
        if original == edited or row["original"] == row["edited"]:
            raise PipelineError(f"{where}: an edit must change the text and flip the label")
        pairs.append(ContrastPair(row["review"], row["original"], row["edited"], original))
    return pairs


def read_short_texts(path: str | Path) -> list[ShortText]:
    """The labelled sentences in `path`."""
    path = Path(path)
    rows = _rows(path, {"review", "text", "label"})
    return [
        ShortText(row["review"], row["text"], _label(row["label"], f"{path}:{number}"))
        for number, row in enumerate(rows, 1)
    ]


def check_quotes(quotes: list[tuple[str, str]], test: pd.DataFrame, source: str) -> int:
    """Every (review, quote) pair whose review the test table holds: the review contains the
    quote. Returns how many were checked (a seeded slice of the data holds only some)."""
    index = {
        (label, review_id, rating): text
        for label, review_id, rating, text in zip(
            test["label"].to_numpy(),
            test["id"].to_numpy(),
            test["rating"].to_numpy(),
            test["text"].to_numpy(),
        )
    }
    checked = 0
    for review, quote in quotes:
        match = _REVIEW.fullmatch(review)
        if match is None:
            raise PipelineError(
                f"{source}: {review!r} does not name a test review "
                f"(test/pos/<id>_<rating> or test/neg/...)"
            )
        key = (int(match[1] == "pos"), int(match[2]), int(match[3]))
        text = index.get(key)
        if text is not None and quote not in text:
            raise PipelineError(f"{source}: {review} does not contain {quote[:60]!r}")
        checked += text is not None
    return checked
