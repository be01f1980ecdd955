"""Stage 1, ingest: the aclImdb v1 archive -> one validated table of reviews.

Members are read straight from the compressed tar stream (no extraction of
100,000 files), every member is checked for safety before it is read, and the
table is validated against the dataset's known shape before it is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from imdb_sentiment.core import params as P
from imdb_sentiment.core.artifacts import atomic_outputs, json_text
from imdb_sentiment.core.errors import exit_on_error, one_line
from imdb_sentiment.data import data_report
from imdb_sentiment.data.aclimdb import (
    LABELS,
    RATINGS,
    URLS_RE,
    DataError,
    decode,
    movie_ids,
    movie_of,
    parse_review_name,
    wanted_member,
)
from imdb_sentiment.data.archive import ArchiveError, iter_files
from imdb_sentiment.data.download import download, sha256_file
from imdb_sentiment.data.reviews import COLUMNS


def read_archive(path: str | Path, max_bytes: int, max_total_bytes: int) -> pd.DataFrame:
    """Parse the archive into a table with columns COLUMNS, sorted by split, label, id."""
    columns: dict[str, list] = {"split": [], "kind": [], "id": [], "rating": [], "text": []}
    urls: dict[tuple[str, str], list[str]] = {}
    files = iter_files(path, wanted_member, max_bytes, max_total_bytes)
    seen: set[str] = set()
    for name, content in tqdm(
        files, desc="ingest", unit=" files", file=sys.stderr, mininterval=2.0
    ):
        if name in seen:  # tar keeps both copies, and either could be the one meant
            raise ArchiveError(f"archive {path} holds {name!r} twice")
        seen.add(name)
        if match := URLS_RE.fullmatch(name):
            split, kind = match.groups()
            urls[split, kind] = movie_ids(decode(content, name), name)
            continue
        decode(content, f"review {name}")  # the check only: the table is built from the bytes
        for column, value in zip(columns, (*parse_review_name(name), content)):
            columns[column].append(value)
    if not columns["text"]:
        raise ArchiveError(f"archive {path} holds no aclImdb/{{train,test}}/{{pos,neg}} reviews")
    columns["movie"] = [
        movie_of(urls, split, kind, review_id)
        for split, kind, review_id in zip(columns["split"], columns["kind"], columns["id"])
    ]
    columns["split"] = [
        "unsup" if kind == "unsup" else split
        for split, kind in zip(columns["split"], columns["kind"])
    ]
    columns["label"] = [LABELS[kind] for kind in columns["kind"]]
    split_rank = {name: rank for rank, name in enumerate(sorted(set(columns["split"])))}
    order = np.lexsort(
        (columns["id"], columns["label"], [split_rank[split] for split in columns["split"]])
    )
    dtypes = {"id": np.int32, "rating": np.int8, "label": np.int8}
    table: dict[str, np.ndarray | list[str] | pd.Series] = {
        name: np.array(columns[name], dtypes[name])[order] for name in dtypes
    }
    table["split"] = [columns["split"][i] for i in order]
    table["movie"] = [columns["movie"][i] for i in order]
    table["text"] = text_column([columns["text"][i] for i in order])
    return pd.DataFrame({name: table[name] for name in COLUMNS})


def text_column(contents: list[bytes]) -> pd.Series:
    """UTF-8 texts as a string column built from one buffer: the text is copied once,
    never held as Python strings."""
    offsets = np.zeros(len(contents) + 1, np.int64)
    np.cumsum([len(content) for content in contents], out=offsets[1:])
    array = pa.LargeStringArray.from_buffers(
        len(contents), pa.py_buffer(offsets), pa.py_buffer(b"".join(contents))
    )
    return pd.Series(array, dtype="str")


def validate(frame: pd.DataFrame, expected_per_class: int | None) -> None:
    """Check counts, ratings against labels, unique ids and non-empty texts."""
    kind = np.where(frame["label"] == 1, "pos", np.where(frame["label"] == 0, "neg", "unsup"))
    for (split, label), group in frame.groupby(["split", "label"]):
        name = f"{split}/{({1: 'pos', 0: 'neg'}).get(label, 'unsup')}"
        if split != "unsup" and expected_per_class is not None and len(group) != expected_per_class:
            raise DataError(f"{name} has {len(group)} reviews, expected {expected_per_class}")
        if group["id"].duplicated().any():
            raise DataError(f"{name} has duplicate review ids")
    for split in ("train", "test"):
        for label in (0, 1):
            if not ((frame["split"] == split) & (frame["label"] == label)).any():
                raise DataError(f"{split}/{'pos' if label else 'neg'} has no reviews")
    bad = [i for i, (k, r) in enumerate(zip(kind, frame["rating"])) if r not in RATINGS[k]]
    if bad:
        row = frame.iloc[bad[0]]
        raise DataError(
            f"{len(bad)} reviews have a rating inconsistent with their label, e.g. "
            f"{row['split']} id {row['id']} label {row['label']} rating {row['rating']}"
        )
    empty = np.array([not text or text.isspace() for text in frame["text"]], dtype=bool)
    if empty.any():
        first = int(np.argmax(empty))
        row = frame.iloc[first]
        folder = "train" if row["split"] == "unsup" else row["split"]  # unsup is in train/
        raise DataError(
            f"{int(empty.sum())} reviews are empty, e.g. "
            f"aclImdb/{folder}/{kind[first]}/{row['id']}_{row['rating']}.txt"
        )


def sample(frame: pd.DataFrame, per_class: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of `per_class` reviews per (split, label); None keeps all."""
    if per_class is None:
        return frame
    parts = [
        group.sample(n=min(per_class, len(group)), random_state=seed)
        for _, group in frame.groupby(["split", "label"], sort=True)
    ]
    return pd.concat(parts).sort_values(["split", "label", "id"]).reset_index(drop=True)


def ensure_archive(cfg: P.IngestParams) -> Path:
    """The local archive, downloaded (and verified) first if absent."""
    archive = Path(cfg.archive)
    if archive.is_file():
        return archive
    if archive.exists():
        raise ArchiveError(f"archive path {archive} exists but is not a file")
    print(one_line(f"{archive} not found: downloading {cfg.url}"), file=sys.stderr)
    # a compressed archive is never larger than what it unpacks to
    download(cfg.url, archive, cfg.sha256, max_bytes=cfg.max_total_mb * 1024 * 1024)
    return archive


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=P.PARAMS_FILE)
    parser.add_argument("--reviews", required=True, help="output table (parquet)")
    parser.add_argument("--report", required=True, help="output data report (json)")
    args = parser.parse_args(argv)

    cfg: P.IngestParams = P.load("ingest", args.params)
    seed = P.load_seed(args.params)
    archive = ensure_archive(cfg)
    frame = read_archive(archive, cfg.max_member_mb * 1024 * 1024, cfg.max_total_mb * 1024 * 1024)
    validate(frame, cfg.expected_per_class)
    frame = sample(frame, cfg.sample_per_class, seed)
    report = data_report.data_report(frame, sha256_file(archive))
    with atomic_outputs((args.reviews, False), (args.report, False)) as (table, report_path):
        frame.to_parquet(table, index=False)
        report_path.write_text(json_text(report), encoding="utf-8")
    print(f"ingest: {len(frame)} reviews {report['counts']} -> {args.reviews}", file=sys.stderr)


if __name__ == "__main__":
    main()
