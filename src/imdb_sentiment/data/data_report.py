"""The data report of a reviews table: counts, movies, duplicates, markup and review lengths.

Written by the ingest stage as metrics/data.json for `dvc metrics diff`. The
texts are read from the table's UTF-8 buffers: nothing here copies them into
Python strings all at once.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over the labeled content, independent of archive packing."""
    digest = hashlib.sha256()
    labeled = frame[frame["split"] != "unsup"]
    for row in labeled[["split", "label", "id", "rating", "movie", "text"]].itertuples(index=False):
        digest.update("\x1f".join(map(str, row)).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


# the characters str.split() splits on, among the ASCII ones
ASCII_SPACE = np.zeros(256, bool)
ASCII_SPACE[[ord(c) for c in map(chr, range(128)) if c.isspace()]] = True


def utf8_buffers(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a string column: text i is data[offsets[i]:offsets[i + 1]], UTF-8."""
    array = pa.array(texts)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    array = array.cast(pa.large_string())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64)[array.offset : array.offset + len(array) + 1]
    data = (
        np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def text_digests(texts: pd.Series) -> list[bytes]:
    """sha256 of each text: duplicates are found on these, with no copy of the texts."""
    offsets, data = utf8_buffers(texts)
    bounds = offsets.tolist()
    view = data.data  # the array's bytes as a memoryview, the Buffer hashlib is typed to take
    return [hashlib.sha256(view[begin:end]).digest() for begin, end in zip(bounds, bounds[1:])]


def word_counts(texts: pd.Series, rows_per_chunk: int = 2048) -> np.ndarray:
    """len(text.split()) of each text, counted on the column's UTF-8 bytes.

    A word starts at a non-space byte after a space or at the text's start. Texts
    with non-ASCII bytes (which may hold non-ASCII spaces) are split in Python.
    """
    offsets, data = utf8_buffers(texts)
    counts = np.zeros(len(texts), np.int64)
    non_ascii: list[np.intp] = []
    for first in range(0, len(texts), rows_per_chunk):
        bounds = offsets[first : first + rows_per_chunk + 1]
        chunk = data[bounds[0] : bounds[-1]]
        begins, ends = bounds[:-1] - bounds[0], bounds[1:] - bounds[0]
        space = ASCII_SPACE[chunk]
        starts = ~space
        starts[1:] &= space[:-1]
        rows = np.flatnonzero(begins < ends)  # empty texts have no words
        if not len(rows):
            continue
        starts[begins[rows]] = ~space[begins[rows]]
        counts[first + rows] = np.add.reduceat(starts, begins[rows], dtype=np.int64)
        high = np.maximum.reduceat(chunk, begins[rows]) >= 0x80
        non_ascii.extend(first + rows[high])
    counts[non_ascii] = [len(text.split()) for text in texts.iloc[non_ascii]]
    return counts


def data_report(frame: pd.DataFrame, archive_sha256: str) -> dict:
    """Counts, duplicates, markup share and length statistics for `dvc metrics diff`."""
    words = word_counts(frame["text"])
    counts = {
        f"{split}_{name}": int(((frame["split"] == split) & (frame["label"] == label)).sum())
        for split in ("train", "test")
        for name, label in (("pos", 1), ("neg", 0))
    }
    counts["unsup"] = int((frame["split"] == "unsup").sum())
    digests: dict[str, list[bytes]] = {split: [] for split in ("train", "test", "unsup")}
    labels_of: dict[bytes, set[int]] = {}
    for digest, split, label in zip(
        text_digests(frame["text"]), frame["split"].tolist(), frame["label"].tolist()
    ):
        digests[split].append(digest)
        if split != "unsup":
            labels_of.setdefault(digest, set()).add(label)
    train_texts = set(digests["train"])
    return {
        "counts": counts,
        "movies": {
            split: int(frame.loc[frame["split"] == split, "movie"].nunique())
            for split in ("train", "test")
        },
        "movies_shared_train_test": len(
            set(frame.loc[frame["split"] == "train", "movie"])
            & set(frame.loc[frame["split"] == "test", "movie"])
        ),
        "duplicates": {
            "within_train": len(digests["train"]) - len(train_texts),
            "within_test": len(digests["test"]) - len(set(digests["test"])),
            "test_in_train": sum(digest in train_texts for digest in digests["test"]),
            "conflicting_labels": sum(len(labels) > 1 for labels in labels_of.values()),
        },
        "br_share": round(float(frame["text"].str.contains("<br", regex=False).mean()), 4),
        "words": {
            "median": float(np.median(words)),
            "mean": round(float(words.mean()), 2),
            "max": int(words.max()),
        },
        "archive_sha256": archive_sha256,
        "labeled_fingerprint": fingerprint(frame),
    }
