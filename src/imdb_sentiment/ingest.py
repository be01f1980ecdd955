"""Stage 1, ingest: the aclImdb v1 archive -> one validated table of reviews.

Members are read straight from the compressed tar stream (no extraction of
100,000 files), every member is checked for safety before it is read, and the
table is validated against the dataset's known shape before it is written.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import http.client
import lzma
import re
import sys
import tarfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from imdb_sentiment import params as P
from imdb_sentiment.artifacts import atomic_outputs, atomic_path, json_text
from imdb_sentiment.errors import PipelineError, exit_on_error
from imdb_sentiment.reviews import COLUMNS

# ASCII digits only, at most 10 of them, and nothing after ".txt" (not even a newline)
REVIEW_RE = re.compile(r"aclImdb/(train|test)/(pos|neg|unsup)/([0-9]{1,10})_([0-9]{1,10})\.txt")
URLS_RE = re.compile(r"aclImdb/(train|test)/urls_(pos|neg|unsup)\.txt")
# any text file in a review folder: one whose name REVIEW_RE refuses is an error, not skipped
IN_REVIEW_FOLDER_RE = re.compile(r"aclImdb/(train|test)/(pos|neg|unsup)/[^/]*\.txt\s*", re.S)
MOVIE_RE = re.compile(r"/title/(tt\d+)/")
LABELS = {"pos": 1, "neg": 0, "unsup": -1}
RATINGS = {"pos": range(7, 11), "neg": range(1, 5), "unsup": range(0, 1)}
MAX_REVIEW_ID = np.iinfo(np.int32).max


class ArchiveError(PipelineError):
    """The archive is missing, corrupt, unsafe or not the aclImdb layout."""


class DataError(PipelineError):
    """The reviews in the archive do not have the dataset's known shape."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: str | Path, sha256: str, retries: int = 3) -> None:
    """Download `url` to `dest` with a progress bar, retries and sha256 check.

    The file appears at `dest` only once complete and verified.
    """
    dest = Path(dest)
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with atomic_path(dest) as tmp:
                with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}",
                              file=sys.stderr) as bar:
                        while block := response.read(1 << 20):
                            out.write(block)
                            bar.update(len(block))
                actual = sha256_file(tmp)
                if actual != sha256:
                    raise ArchiveError(
                        f"downloaded {url} has sha256 {actual}, expected {sha256}; nothing was kept"
                    )
            return
        except ArchiveError:
            raise
        except ValueError as err:  # not a URL urllib can fetch, or an unusable path
            raise ArchiveError(f"cannot download {url!r} to {dest}: {err}") from None
        except (OSError, http.client.HTTPException) as err:
            last_error = err
            print(f"download attempt {attempt}/{retries} failed: {err}", file=sys.stderr)
            if attempt < retries:
                time.sleep(2**attempt)
    raise ArchiveError(f"could not download {url} after {retries} attempts: {last_error}")


def check_member(member: tarfile.TarInfo, max_bytes: int) -> None:
    """Refuse members that could escape or abuse the reader."""
    name = member.name
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ArchiveError(f"unsafe archive member {name!r}: absolute path")
    if ".." in Path(name).parts:
        raise ArchiveError(f"unsafe archive member {name!r}: path contains '..'")
    if member.issym() or member.islnk():
        raise ArchiveError(f"unsafe archive member {name!r}: links are not allowed")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"unsafe archive member {name!r}: device, fifo or other special file")
    if member.size > max_bytes:
        raise ArchiveError(
            f"unsafe archive member {name!r}: {member.size} bytes exceeds the {max_bytes}-byte limit"
        )


COMPRESSIONS = ((b"\x1f\x8b", gzip.GzipFile), (b"BZh", bz2.BZ2File),
                (b"\xfd7zXZ\x00", lzma.LZMAFile))


def open_decompressed(path: str | Path, handle):
    """The archive's tar bytes: decompressed (gzip, bzip2 or xz, which check their own
    checksums when read to the end) or, for a plain tar, the file itself."""
    magic = handle.read(6)
    handle.seek(0)
    for prefix, opener in COMPRESSIONS:
        if magic.startswith(prefix):
            return opener(fileobj=handle) if opener is gzip.GzipFile else opener(handle)
    return handle


def check_end(stream, path: str | Path) -> None:
    """After the last member, a tar holds its end-of-archive blocks (zeros) and nothing else.

    Python's tarfile stops quietly at the first header it cannot read, so a corrupt
    archive looks like a shorter one unless what follows is checked too. Reading to
    the end also makes the decompressor verify its checksum.
    """
    trailing = 0
    while block := stream.read(1 << 20):
        if block.count(0) != len(block):
            raise ArchiveError(f"archive {path} is corrupt: data after the last readable member")
        trailing += len(block)
    if trailing < tarfile.BLOCKSIZE:
        raise ArchiveError(f"archive {path} is truncated: no end-of-archive marker")


def iter_files(path: str | Path, max_bytes: int, max_total_bytes: int
               ) -> Iterator[tuple[str, bytes]]:
    """Yield (name, content) of the regular files of a tar archive, in stream order.

    Every member counts towards `max_total_bytes`, read or skipped, since the
    stream must be decompressed through all of them. A corrupt or truncated
    archive is an ArchiveError, wherever the damage is.
    """
    total = 0
    try:
        with open(path, "rb") as raw, open_decompressed(path, raw) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                check_member(member, max_bytes)
                total += member.size
                if total > max_total_bytes:
                    raise ArchiveError(
                        f"archive {path} unpacks to more than the {max_total_bytes}-byte limit "
                        f"(reached at member {member.name!r}); raise ingest.max_total_mb if "
                        "this is really the dataset")
                if (member.isfile() and IN_REVIEW_FOLDER_RE.fullmatch(member.name)
                        and not REVIEW_RE.fullmatch(member.name)):
                    raise DataError(f"archive member {member.name[:120]!r} is in a review folder "
                                    "but is not named <id>_<rating>.txt (ASCII digits)")
                if member.isfile() and (
                    REVIEW_RE.fullmatch(member.name) or URLS_RE.fullmatch(member.name)
                ):
                    handle = archive.extractfile(member)
                    yield member.name, handle.read() if handle else b""
            check_end(archive.fileobj, path)  # tarfile reads ahead: its buffer first
    except IsADirectoryError:
        raise ArchiveError(f"archive {path} is a directory, not a file") from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
        raise ArchiveError(f"archive {path} is corrupt or truncated: {err}") from None


def movie_ids(urls_text: str, source: str) -> list[str]:
    """IMDb title ids, one per line of a `urls_*.txt` file (line i is review id i)."""
    ids = []
    for number, line in enumerate(urls_text.splitlines()):
        match = MOVIE_RE.search(line)
        if not match:
            raise DataError(f"{source} line {number + 1}: no IMDb title id in {line[:80]!r}")
        ids.append(match.group(1))
    return ids


def decode(content: bytes, name: str) -> str:
    try:
        return content.decode("utf-8", "strict")
    except UnicodeDecodeError as err:
        raise DataError(f"{name} is not valid UTF-8: {err}") from None


def parse_review_name(name: str) -> tuple[str, str, int, int]:
    """(split, kind, id, rating) of a review member; ids and ratings outside their range refused."""
    split, kind, review_id, rating = REVIEW_RE.fullmatch(name).groups()
    if int(rating) not in RATINGS[kind]:
        allowed = RATINGS[kind]
        raise DataError(f"review {name}: rating {int(rating)} is outside "
                        f"{allowed.start}-{allowed.stop - 1}, the range of {kind} reviews")
    if int(review_id) > MAX_REVIEW_ID:
        raise DataError(f"review {name}: id {review_id} is larger than {MAX_REVIEW_ID}")
    return split, kind, int(review_id), int(rating)


def read_archive(path: str | Path, max_bytes: int, max_total_bytes: int) -> pd.DataFrame:
    """Parse the archive into a table with columns COLUMNS, sorted by split, label, id."""
    rows: list[tuple[str, str, int, int, str]] = []
    urls: dict[tuple[str, str], list[str]] = {}
    files = iter_files(path, max_bytes, max_total_bytes)
    for name, content in tqdm(files, desc="ingest", unit=" files", file=sys.stderr,
                              mininterval=2.0):
        if match := URLS_RE.fullmatch(name):
            urls[match.groups()] = movie_ids(decode(content, name), name)
            continue
        rows.append((*parse_review_name(name), decode(content, f"review {name}")))
    if not rows:
        raise ArchiveError(f"archive {path} holds no aclImdb/{{train,test}}/{{pos,neg}} reviews")
    frame = pd.DataFrame(rows, columns=["split", "kind", "id", "rating", "text"])
    frame["movie"] = [
        _movie(urls, split, kind, review_id)
        for split, kind, review_id in zip(frame["split"], frame["kind"], frame["id"])
    ]
    frame["label"] = frame["kind"].map(LABELS).astype("int8")
    frame.loc[frame["kind"] == "unsup", "split"] = "unsup"
    frame["rating"] = frame["rating"].astype("int8")
    frame["id"] = frame["id"].astype("int32")
    frame = frame.sort_values(["split", "label", "id"], kind="stable").reset_index(drop=True)
    return frame[COLUMNS]


def _movie(urls: dict[tuple[str, str], list[str]], split: str, kind: str, review_id: int) -> str:
    lines = urls.get((split, kind))
    if lines is None:
        raise DataError(f"aclImdb/{split}/urls_{kind}.txt is missing: reviews need their movie ids")
    if review_id >= len(lines):
        raise DataError(
            f"aclImdb/{split}/{kind}/{review_id}_*.txt has no line in urls_{kind}.txt "
            f"({len(lines)} lines)"
        )
    return lines[review_id]


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
    bad = [
        i for i, (k, r) in enumerate(zip(kind, frame["rating"])) if r not in RATINGS[k]
    ]
    if bad:
        row = frame.iloc[bad[0]]
        raise DataError(
            f"{len(bad)} reviews have a rating inconsistent with their label, e.g. "
            f"{row['split']} id {row['id']} label {row['label']} rating {row['rating']}"
        )
    empty = frame["text"].str.strip() == ""
    if empty.any():
        row = frame[empty].iloc[0]
        raise DataError(f"{int(empty.sum())} reviews are empty, e.g. {row['split']} id {row['id']}")


def sample(frame: pd.DataFrame, per_class: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of `per_class` reviews per (split, label); None keeps all."""
    if per_class is None:
        return frame
    parts = [
        group.sample(n=min(per_class, len(group)), random_state=seed)
        for _, group in frame.groupby(["split", "label"], sort=True)
    ]
    return pd.concat(parts).sort_values(["split", "label", "id"]).reset_index(drop=True)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over the labeled content, independent of archive packing."""
    digest = hashlib.sha256()
    labeled = frame[frame["split"] != "unsup"]
    for row in labeled[["split", "label", "id", "rating", "movie", "text"]].itertuples(index=False):
        digest.update("\x1f".join(map(str, row)).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def data_report(frame: pd.DataFrame, archive_sha256: str) -> dict:
    """Counts, duplicates, markup share and length statistics for `dvc metrics diff`."""
    words = frame["text"].str.split().str.len()
    counts = {
        f"{split}_{name}": int(((frame["split"] == split) & (frame["label"] == label)).sum())
        for split in ("train", "test") for name, label in (("pos", 1), ("neg", 0))
    }
    counts["unsup"] = int((frame["split"] == "unsup").sum())
    train_texts = frame.loc[frame["split"] == "train", "text"]
    test_texts = frame.loc[frame["split"] == "test", "text"]
    labeled = frame[frame["split"] != "unsup"]
    conflicting = labeled.groupby("text")["label"].nunique()
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
            "within_train": int(train_texts.duplicated().sum()),
            "within_test": int(test_texts.duplicated().sum()),
            "test_in_train": int(test_texts.isin(set(train_texts)).sum()),
            "conflicting_labels": int((conflicting > 1).sum()),
        },
        "br_share": round(float(frame["text"].str.contains("<br", regex=False).mean()), 4),
        "words": {
            "median": float(words.median()),
            "mean": round(float(words.mean()), 2),
            "max": int(words.max()),
        },
        "archive_sha256": archive_sha256,
        "labeled_fingerprint": fingerprint(frame),
    }


def ensure_archive(cfg: P.IngestParams) -> Path:
    """The local archive, downloaded (and verified) first if absent."""
    archive = Path(cfg.archive)
    if archive.is_file():
        return archive
    if archive.exists():
        raise ArchiveError(f"archive path {archive} exists but is not a file")
    print(f"{archive} not found: downloading {cfg.url}", file=sys.stderr)
    download(cfg.url, archive, cfg.sha256, cfg.download_retries)
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
    frame = read_archive(archive, cfg.max_member_mb * 1024 * 1024,
                         cfg.max_total_mb * 1024 * 1024)
    validate(frame, cfg.expected_per_class)
    frame = sample(frame, cfg.sample_per_class, seed)
    report = data_report(frame, sha256_file(archive))
    with atomic_outputs((args.reviews, False), (args.report, False)) as (table, report_path):
        frame.to_parquet(table, index=False)
        report_path.write_text(json_text(report), encoding="utf-8")
    print(f"ingest: {len(frame)} reviews {report['counts']} -> {args.reviews}", file=sys.stderr)


if __name__ == "__main__":
    main()
