"""The preprocessed-data format: what preprocess writes and train and the benchmarks read.

A directory holding `vocab.txt` (one token a line, padding and OOV excluded),
`train.npz`, `val.npz` and `unlabeled.npz` (one `Split` each, encoded), `texts.parquet`
(the same reviews' texts, for the n-gram models), `embeddings.npy` (optional word
vectors) and `preprocess.json` (the params that made it). The official test set is not
here: only the evaluate stage reads it, as raw text.

Loading checks the data against that record (vocab_size, max_len, pretrain_dim) and
reads arrays only once their headers agree with the bytes the files hold, so a
crafted file is refused before anything large is allocated.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from imdb_sentiment.core import params as P
from imdb_sentiment.core.artifacts import json_text, read_json, read_limited
from imdb_sentiment.core.errors import PipelineError, shown

SPLITS = ("train", "val", "unlabeled")
UNLABELED = "unlabeled"  # its labels are all -1
VOCAB_FILE = "vocab.txt"
TEXTS_FILE = "texts.parquet"
EMBEDDINGS_FILE = "embeddings.npy"
CONFIG_FILE = "preprocess.json"
SPLIT_KEYS = ("ids", "offsets", "labels", "review_ids")
# the largest vocabulary params allow, at a generous 64 bytes a word
MAX_VOCAB_BYTES = 64 * 10 * P.MAX_SIZE


@dataclass(frozen=True)
class Split:
    """Encoded reviews: review i is ids[offsets[i]:offsets[i + 1]], with labels[i], and its
    text texts[i] where the split carries texts."""

    ids: np.ndarray  # int32 token ids (0 padding, 1 OOV)
    offsets: np.ndarray  # int64, len(reviews) + 1
    labels: np.ndarray  # int8 0/1 (-1 unlabeled), or float32 soft targets
    review_ids: np.ndarray  # int32 ids within the review's class folder
    texts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def problem(self, vocab_size: int, labelled: bool = True) -> str | None:
        """What makes this not a well-formed split over `vocab_size` token ids, if anything."""
        if not (
            np.issubdtype(self.ids.dtype, np.integer)
            and self.ids.ndim == 1
            and np.issubdtype(self.offsets.dtype, np.integer)
            and self.offsets.ndim == 1
        ):
            return "ids and offsets must be 1-d integer arrays"
        if self.labels.ndim != 1 or self.review_ids.ndim != 1:
            return "labels and review ids must be 1-d arrays"
        if len(self.offsets) != len(self.labels) + 1 or len(self.review_ids) != len(self.labels):
            return "offsets, labels and review ids disagree in length"
        if (
            self.offsets[0] != 0
            or self.offsets[-1] != len(self.ids)
            or (np.diff(self.offsets) < 0).any()
        ):
            return "offsets do not run from 0 to the number of ids"
        if not np.issubdtype(self.review_ids.dtype, np.integer):
            return "review ids must be integers"
        if len(self.ids) and (self.ids.min() < 0 or self.ids.max() >= vocab_size):
            return f"token ids outside [0, {vocab_size})"
        # preprocess writes 0/1 labels; soft targets exist only in memory (distillation)
        allowed = (0, 1) if labelled else (-1,)
        if not (
            np.issubdtype(self.labels.dtype, np.integer) and np.isin(self.labels, allowed).all()
        ):
            return f"labels are not all {' or '.join(map(str, allowed))}"
        if self.texts is not None and len(self.texts) != len(self.labels):
            return f"{len(self.texts)} texts for {len(self.labels)} reviews"
        return None


def concat_splits(first: Split, second: Split) -> Split:
    """One encoded split holding the reviews of both, in order; 0/1 labels stay integers
    unless the other split's are soft targets. Texts are kept when both carry them."""
    labels = np.concatenate([first.labels, second.labels]).astype(
        np.result_type(first.labels, second.labels)
    )
    both_texts = first.texts is not None and second.texts is not None
    return Split(
        ids=np.concatenate([first.ids, second.ids]),
        offsets=np.concatenate([first.offsets, second.offsets[1:] + first.offsets[-1]]),
        labels=labels,
        review_ids=np.concatenate([first.review_ids, second.review_ids]),
        texts=[*first.texts, *second.texts] if both_texts else None,  # type: ignore[misc]
    )


def write(
    directory: Path,
    vocabulary: list[str],
    splits: dict[str, Split],
    embeddings: np.ndarray | None,
    cfg: P.PreprocessParams,
    seed: int,
) -> None:
    """Write the format into an empty `directory` (the caller makes it atomic); every split
    must carry its texts."""
    import pandas as pd

    directory.mkdir()
    (directory / VOCAB_FILE).write_text("".join(f"{t}\n" for t in vocabulary), encoding="utf-8")
    for name, split in splits.items():
        np.savez(directory / f"{name}.npz", **{key: getattr(split, key) for key in SPLIT_KEYS})
    texts = pd.DataFrame(
        {
            "split": [name for name, split in splits.items() for _ in range(len(split))],
            "text": [text for split in splits.values() for text in split.texts or []],
            # which review each text is, so that a reader can check the order
            "review_id": np.concatenate([split.review_ids for split in splits.values()]),
            "label": np.concatenate([split.labels for split in splits.values()]),
        }
    )
    texts.to_parquet(directory / TEXTS_FILE, index=False)
    if embeddings is not None:
        np.save(directory / EMBEDDINGS_FILE, embeddings)
    (directory / CONFIG_FILE).write_text(
        json_text({**P.to_dict(cfg), "seed": seed}), encoding="utf-8"
    )


def _npy_header(entry, version: tuple[int, int]) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from an .npy header; its size is bounded by NumPy's reader."""
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise ValueError(f"unsupported .npy version {version}")
    shape, _, dtype = readers[version](entry)
    return shape, dtype


def check_npz(path: Path) -> None:
    """Refuse an .npz that preprocess did not write as it writes them: entries stored
    uncompressed (so none unpacks to more than the file holds), each an .npy array of
    plain numbers whose header declares exactly the bytes that follow it. Only the
    headers are read."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"entry {info.filename!r} is compressed")
            with archive.open(info) as entry:
                try:
                    shape, dtype = _npy_header(entry, np.lib.format.read_magic(entry))
                except ValueError as err:
                    raise ValueError(
                        f"entry {info.filename!r} is not an .npy array: {err}"
                    ) from None
                if dtype.hasobject:
                    raise ValueError(f"entry {info.filename!r} holds Python objects")
                declared = math.prod(shape) * dtype.itemsize
                held = info.file_size - entry.tell()
            if declared != held:
                raise ValueError(
                    f"entry {info.filename!r} declares {declared} bytes of data but holds {held}"
                )


def load_split(directory: str | Path, name: str, vocab_size: int) -> Split:
    """One split with its texts, checked against the vocabulary it was encoded with and the
    max_len the directory's preprocess.json records."""
    path = Path(directory) / f"{name}.npz"
    try:
        check_npz(path)
        with np.load(path) as data:
            arrays = {key: data[key] for key in SPLIT_KEYS}
    except FileNotFoundError:
        raise PipelineError(f"{path} not found: run the preprocess stage first") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as err:
        raise PipelineError(f"{path} is not a preprocess output: {err}") from None
    split = Split(**arrays)
    if problem := split.problem(vocab_size, labelled=name != UNLABELED):
        raise PipelineError(f"{path} is not a preprocess output: {problem}")
    split = replace(split, texts=load_texts(directory, name, split.review_ids, split.labels))
    max_len = load_config(directory)[0].max_len
    lengths = split.lengths()
    if len(lengths) and lengths.max() > max_len:
        review = int(np.argmax(lengths > max_len))
        raise PipelineError(
            f"{path}: review {review} has {lengths[review]} tokens, more than "
            f"the max_len {max_len} preprocess.json records"
        )
    return split


def load_vocabulary(directory: str | Path) -> list[str]:
    """The tokens, without padding and OOV; each must be a distinct non-empty word."""
    path = Path(directory) / VOCAB_FILE
    try:
        text = read_limited(path, MAX_VOCAB_BYTES, "a vocabulary").decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"cannot read the vocabulary {path}: {err}") from None
    if text and not text.endswith("\n"):
        raise PipelineError(f"{path} is not a vocabulary: its last line has no line break")
    tokens = text.split("\n")[:-1]
    if (
        not tokens
        or len(set(tokens)) != len(tokens)
        or not all(t and t.strip() == t and " " not in t for t in tokens)
    ):
        raise PipelineError(f"{path} is not a vocabulary: it must hold distinct words, one a line")
    vocab_size = load_config(directory)[0].vocab_size
    if len(tokens) + 2 > vocab_size:
        raise PipelineError(
            f"{path} holds {len(tokens)} words and 2 reserved ids, more than "
            f"the vocab_size {vocab_size} preprocess.json records"
        )
    return tokens


def load_embeddings(directory: str | Path) -> np.ndarray | None:
    """The pretrained word vectors, or None when preprocess made none: one finite row per
    token id (the vocabulary's and 2 reserved), of the pretrain_dim preprocess.json records."""
    path = Path(directory) / EMBEDDINGS_FILE
    dimension = load_config(directory)[0].pretrain_dim
    if not dimension:
        return None
    if not path.is_file():
        raise PipelineError(
            f"{path} is missing or not a file, though preprocess.json records word vectors "
            f"(pretrain_dim {dimension}): run the preprocess stage again"
        )
    try:
        # mapped first: a header declaring more than the file holds fails here, unallocated
        mapped = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path} is not a word-vector array: {err}") from None
    expected = (len(load_vocabulary(directory)) + 2, dimension)
    if not np.issubdtype(mapped.dtype, np.floating):
        raise PipelineError(f"{path} holds {mapped.dtype} numbers, not floating-point vectors")
    if mapped.shape != expected:
        raise PipelineError(
            f"{path} has shape {mapped.shape}, not {expected} (the vocabulary's "
            "ids by the pretrain_dim preprocess.json records)"
        )
    vectors = np.array(mapped)
    if not np.isfinite(vectors).all():
        raise PipelineError(f"{path}: the word vectors are not all finite")
    return vectors


def load_config(directory: str | Path) -> tuple[P.PreprocessParams, int]:
    """The preprocess params and seed the directory was made with."""
    path = Path(directory) / CONFIG_FILE
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise PipelineError(f"{path} must hold the preprocess params as a mapping")
    raw = dict(raw)
    seed = raw.pop("seed", None)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= P.MAX_SEED:
        raise PipelineError(
            f"{path}: 'seed' must be an integer in [0, {P.MAX_SEED}], got {shown(seed)}"
        )
    return P.from_dict("preprocess", raw), seed


def texts_of(split: Split) -> list[str]:
    """A split's texts, which the n-gram models need."""
    if split.texts is None:
        raise PipelineError("the n-gram models need the reviews' texts, and this split has none")
    return split.texts


def load_texts(
    directory: str | Path, name: str, review_ids: np.ndarray, labels: np.ndarray
) -> list[str]:
    """The texts of split `name`, checked to be those of the reviews `review_ids` with
    `labels`, in that order."""
    import pandas as pd
    import pyarrow

    path = Path(directory) / TEXTS_FILE
    try:
        table = pd.read_parquet(path, filters=[("split", "==", name)])
    except FileNotFoundError:
        raise PipelineError(f"{path} not found: run the preprocess stage first") from None
    except (OSError, ValueError, KeyError, pyarrow.ArrowException) as err:
        raise PipelineError(f"{path} is not a preprocess output: {err}") from None
    if "text" not in table.columns or not all(isinstance(t, str) for t in table["text"]):
        raise PipelineError(f"{path} is not a preprocess output: no column 'text' of strings")
    if not {"review_id", "label"} <= set(table.columns):
        raise PipelineError(f"{path} is not a preprocess output: no review_id and label columns")
    if len(table) != len(review_ids) or not (
        np.array_equal(table["review_id"].to_numpy(), review_ids)
        and np.array_equal(table["label"].to_numpy(), labels)
    ):
        raise PipelineError(
            f"{path}: the {name} texts are not those of {name}.npz's reviews in its order"
        )
    return table["text"].tolist()
