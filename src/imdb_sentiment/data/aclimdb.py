"""The aclImdb v1 layout: which archive members hold reviews, and what their names say.

A review is aclImdb/{train,test}/{pos,neg,unsup}/<id>_<rating>.txt; line i of
the folder's urls_{pos,neg,unsup}.txt is review i's IMDb page, which names its
movie. Names that break these rules are errors, never skipped.
"""

from __future__ import annotations

import re

import numpy as np

from imdb_sentiment.core.errors import PipelineError

# ASCII digits only, at most 10 of them, and nothing after ".txt" (not even a newline)
REVIEW_RE = re.compile(r"aclImdb/(train|test)/(pos|neg|unsup)/([0-9]{1,10})_([0-9]{1,10})\.txt")
URLS_RE = re.compile(r"aclImdb/(train|test)/urls_(pos|neg|unsup)\.txt")
# any file in a review folder: one whose name REVIEW_RE refuses is an error, not skipped
IN_REVIEW_FOLDER_RE = re.compile(r"aclImdb/(train|test)/(pos|neg|unsup)/.+", re.S)
MOVIE_RE = re.compile(r"/title/(tt\d+)/")
LABELS = {"pos": 1, "neg": 0, "unsup": -1}
RATINGS = {"pos": range(7, 11), "neg": range(1, 5), "unsup": range(0, 1)}
MAX_REVIEW_ID = np.iinfo(np.int32).max
# Each url line becomes a Python string: a 128 MB list of the shortest lines would be
# gigabytes of them. The longest list, urls_unsup.txt, has 50,000 lines.
MAX_URL_LINES = 1 << 20
# what str.splitlines splits at ("\r\n" counting once)
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


class DataError(PipelineError):
    """The reviews in the archive do not have the dataset's known shape."""


def line_count(text: str) -> int:
    """len(text.splitlines()), without making the lines."""
    breaks = sum(text.count(mark) for mark in LINE_BREAKS) - text.count("\r\n")
    return breaks + int(bool(text) and text[-1] not in LINE_BREAKS)


def movie_ids(urls_text: str, source: str) -> list[str]:
    """IMDb title ids, one per line of a `urls_*.txt` file (line i is review id i)."""
    if line_count(urls_text) > MAX_URL_LINES:
        raise DataError(
            f"{source} has more than {MAX_URL_LINES} lines: no aclImdb folder "
            "holds that many reviews"
        )
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
    match = REVIEW_RE.fullmatch(name)
    if match is None:  # wanted_member lets only review names and url lists through
        raise DataError(
            f"archive member {name[:120]!r} is not a review: reviews are named "
            "aclImdb/{train,test}/{pos,neg,unsup}/<id>_<rating>.txt"
        )
    split, kind, review_id, rating = match.groups()
    if int(rating) not in RATINGS[kind]:
        allowed = RATINGS[kind]
        raise DataError(
            f"review {name}: rating {int(rating)} is outside "
            f"{allowed.start}-{allowed.stop - 1}, the range of {kind} reviews"
        )
    if int(review_id) > MAX_REVIEW_ID:
        raise DataError(f"review {name}: id {review_id} is larger than {MAX_REVIEW_ID}")
    return split, kind, int(review_id), int(rating)


def wanted_member(name: str) -> bool:
    """Reviews and movie-url lists are read. Any other file in a review folder, and a
    review or url list named with "./" or "//", is refused."""
    if REVIEW_RE.fullmatch(name) or URLS_RE.fullmatch(name):
        return True
    plain = "/".join(part for part in name.split("/") if part not in ("", "."))
    if plain != name and (IN_REVIEW_FOLDER_RE.fullmatch(plain) or URLS_RE.fullmatch(plain)):
        raise DataError(
            f"archive member {name[:120]!r}: names must start aclImdb/ with single "
            "slashes (pack the folder as `tar czf ARCHIVE aclImdb`, not ./aclImdb)"
        )
    if IN_REVIEW_FOLDER_RE.fullmatch(name):
        raise DataError(
            f"archive member {name[:120]!r} is in a review folder "
            "but is not named <id>_<rating>.txt (ASCII digits)"
        )
    return False


def movie_of(urls: dict[tuple[str, str], list[str]], split: str, kind: str, review_id: int) -> str:
    lines = urls.get((split, kind))
    if lines is None:
        raise DataError(f"aclImdb/{split}/urls_{kind}.txt is missing: reviews need their movie ids")
    if review_id >= len(lines):
        raise DataError(
            f"aclImdb/{split}/{kind}/{review_id}_*.txt has no line in urls_{kind}.txt "
            f"({len(lines)} lines)"
        )
    return lines[review_id]
