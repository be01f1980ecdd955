"""Hostile preprocessed data: arrays that disagree with the directory's own record
(preprocess.json), crafted .npz and .npy files (object arrays, pickles, headers that
declare terabytes, compressed entries) are refused on load with one line, before
anything large is allocated."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from builders import project_params

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.data import processed
from imdb_sentiment.data.processed import Split

VOCABULARY = ["a", "b", "c", "d"]
MAX_LEN = 5


def split(reviews: int = 3, length: int = 4, labelled: bool = True) -> Split:
    ids = np.tile(np.arange(2, 2 + length, dtype=np.int32) % 6, reviews)
    labels = np.arange(reviews) % 2 if labelled else np.full(reviews, -1)
    return Split(
        ids=ids,
        offsets=np.arange(reviews + 1, dtype=np.int64) * length,
        labels=labels.astype(np.int8),
        review_ids=np.arange(reviews, dtype=np.int32),
        texts=[f"review {i}" for i in range(reviews)],
    )


def splits(length: int = 4) -> dict[str, Split]:
    """Well-formed splits of every name preprocess writes."""
    return {
        name: split(length=length, labelled=name != processed.UNLABELED)
        for name in processed.SPLITS
    }


def make(
    directory: Path,
    parts: dict[str, Split] | None = None,
    vocabulary: list[str] = VOCABULARY,
    embeddings: np.ndarray | None = None,
) -> Path:
    cfg = project_params("preprocess", vocab_size=10, max_len=MAX_LEN, pretrain_dim=3)
    if embeddings is None:
        embeddings = np.zeros((len(vocabulary) + 2, 3), np.float32)
    processed.write(
        directory,
        vocabulary,
        parts or splits(),
        embeddings,
        cfg,
        seed=1,
    )
    return directory


def load(directory: Path, name: str = "train") -> Split:
    return processed.load_split(directory, name, len(VOCABULARY) + 2)


def test_a_well_formed_directory_loads(tmp_path):
    directory = make(tmp_path / "p")
    assert len(load(directory)) == 3
    assert load(directory).texts == ["review 0", "review 1", "review 2"]
    assert load(directory, processed.UNLABELED).labels.tolist() == [-1, -1, -1]
    assert processed.load_vocabulary(directory) == VOCABULARY
    assert processed.load_embeddings(directory).shape == (6, 3)


def test_a_review_longer_than_the_recorded_max_len_is_refused(tmp_path):
    directory = make(tmp_path / "p", splits(length=MAX_LEN + 1))
    with pytest.raises(
        PipelineError,
        match="review 0 has 6 tokens, more than the max_len 5 preprocess.json records",
    ):
        load(directory)


def test_a_vocabulary_larger_than_the_recorded_vocab_size_is_refused(tmp_path):
    words = [f"w{i}" for i in range(9)]
    directory = make(tmp_path / "p", vocabulary=words)
    with pytest.raises(
        PipelineError,
        match="9 words and 2 reserved ids, more than the vocab_size 10 preprocess.json records",
    ):
        processed.load_vocabulary(directory)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 7], np.int8),
        np.array([0, 1, -1], np.int8),
        np.array([0.0, 0.5, 1.0], np.float32),
    ],
)
def test_labels_other_than_0_and_1_are_refused(tmp_path, labels):
    bad = Split(**{**split().__dict__, "labels": labels})
    directory = make(tmp_path / "p", {**splits(), "train": bad})
    with pytest.raises(PipelineError, match="labels are not all 0 or 1"):
        load(directory)


def test_unlabeled_reviews_with_labels_are_refused(tmp_path):
    directory = make(tmp_path / "p", {**splits(), processed.UNLABELED: split()})
    with pytest.raises(PipelineError, match="labels are not all -1"):
        load(directory, processed.UNLABELED)


def test_texts_that_disagree_with_the_arrays_are_refused(tmp_path):
    import pandas as pd

    directory = make(tmp_path / "p")
    texts = pd.read_parquet(directory / processed.TEXTS_FILE)
    texts.iloc[1:].to_parquet(directory / processed.TEXTS_FILE, index=False)
    with pytest.raises(PipelineError, match="texts are not those of train.npz's reviews"):
        load(directory)
    texts.iloc[::-1].to_parquet(directory / processed.TEXTS_FILE, index=False)
    with pytest.raises(PipelineError, match="texts are not those of train.npz's reviews"):
        load(directory)
    (directory / processed.TEXTS_FILE).write_bytes(b"PAR1 nonsense")
    with pytest.raises(PipelineError, match="texts.parquet is not a preprocess output"):
        load(directory)


def rewrite_entry(
    path: Path, name: str, data: bytes, compression: int = zipfile.ZIP_STORED
) -> None:
    """Replace one entry of an .npz (a zip) with `data`."""
    with zipfile.ZipFile(path) as source:
        entries = {info.filename: source.read(info) for info in source.infolist()}
    entries[name] = data
    with zipfile.ZipFile(path, "w", compression) as target:
        for entry, content in entries.items():
            target.writestr(entry, content)


def npy_bytes(array: np.ndarray, shape: tuple | None = None) -> bytes:
    """`array` as .npy (version 1.0) bytes, its header claiming `shape` if given."""
    out = io.BytesIO()
    np.lib.format.write_array(out, array, version=(1, 0), allow_pickle=True)
    data = out.getvalue()
    if shape is None:
        return data
    length = int.from_bytes(data[8:10], "little")
    header = data[10 : 10 + length]
    claimed = header.replace(repr(array.shape).encode(), repr(shape).encode(), 1)
    claimed = claimed[: length - 1].rstrip(b" ").ljust(length - 1) + b"\n"  # same length
    return data[:10] + claimed + data[10 + length :]


@pytest.mark.parametrize(
    ("entry", "make_data", "message"),
    [
        ("ids.npy", lambda: npy_bytes(np.array([object()] * 3, dtype=object)), "object"),
        (
            "labels.npy",
            lambda: npy_bytes(np.arange(3, dtype=np.int8), shape=(10**12,)),
            "declares 1000000000000 bytes of data but holds 3",
        ),
        (
            "ids.npy",
            lambda: npy_bytes(np.arange(12, dtype=np.int32), shape=(10**9, 10**9)),
            "declares",
        ),
        ("ids.npy", lambda: b"not an array at all", "not an .npy array"),
        (
            "labels.npy",
            lambda: npy_bytes(np.zeros(3, dtype=[("a", np.int8), ("b", np.int8)])),
            "labels are not all 0 or 1",
        ),
        (
            "labels.npy",
            lambda: npy_bytes(np.array(0, np.int8)),
            "labels and review ids must be 1-d",
        ),
    ],
)
def test_crafted_npz_entries_are_refused_before_they_are_read(tmp_path, entry, make_data, message):
    directory = make(tmp_path / "p")
    rewrite_entry(directory / "train.npz", entry, make_data())
    with pytest.raises(PipelineError, match=message) as err:
        load(directory)
    assert "\n" not in str(err.value)


def test_compressed_npz_entries_are_refused(tmp_path):
    """preprocess writes stored entries; a deflated one could unpack to anything."""
    directory = make(tmp_path / "p")
    rewrite_entry(
        directory / "train.npz", "ids.npy", npy_bytes(np.zeros(12, np.int32)), zipfile.ZIP_DEFLATED
    )
    with pytest.raises(PipelineError, match="compressed"):
        load(directory)


def test_a_pickle_in_place_of_an_npz_is_refused_unloaded(tmp_path):
    directory = make(tmp_path / "p")
    (directory / "train.npz").write_bytes(pickle.dumps({"ids": [1, 2]}))
    with pytest.raises(PipelineError, match="is not a preprocess output"):
        load(directory)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((5, 3), np.float32), r"shape \(5, 3\), not \(6, 3\)"),
        (np.zeros((6, 4), np.float32), r"shape \(6, 4\), not \(6, 3\)"),
        (np.full((6, 3), np.nan, np.float32), "not all finite"),
        (np.zeros((6, 3), np.int64), "not floating-point"),
    ],
)
def test_word_vectors_that_disagree_with_the_record_are_refused(tmp_path, array, message):
    directory = make(tmp_path / "p")
    np.save(directory / processed.EMBEDDINGS_FILE, array)
    with pytest.raises(PipelineError, match=message):
        processed.load_embeddings(directory)


def test_word_vectors_declaring_more_than_the_file_holds_are_refused_unallocated(tmp_path):
    directory = make(tmp_path / "p")
    (directory / processed.EMBEDDINGS_FILE).write_bytes(
        npy_bytes(np.zeros((6, 3), np.float32), shape=(10**10, 3))
    )
    with pytest.raises(PipelineError, match="is not a word-vector array"):
        processed.load_embeddings(directory)


@pytest.mark.parametrize("seed", ["7", 2**40, None, [1]])
def test_a_recorded_seed_that_is_not_a_seed_is_refused(tmp_path, seed):
    directory = make(tmp_path / "p")
    record = json.loads((directory / processed.CONFIG_FILE).read_text())
    (directory / processed.CONFIG_FILE).write_text(json.dumps({**record, "seed": seed}))
    with pytest.raises(PipelineError, match="'seed' must be an integer"):
        processed.load_config(directory)


def test_a_vocabulary_without_its_last_line_break_is_named(tmp_path):
    directory = make(tmp_path / "p")
    vocab = directory / processed.VOCAB_FILE
    vocab.write_text(vocab.read_text().rstrip("\n"))
    with pytest.raises(PipelineError, match="its last line has no line break"):
        processed.load_vocabulary(directory)


def test_a_vocabulary_that_is_a_device_is_refused_unread(tmp_path):
    directory = make(tmp_path / "p")
    vocab = directory / processed.VOCAB_FILE
    vocab.unlink()
    vocab.symlink_to("/dev/zero")
    with pytest.raises(PipelineError, match="is not a regular file"):
        processed.load_vocabulary(directory)


def test_missing_word_vectors_that_preprocess_json_records_are_named(tmp_path):
    directory = make(tmp_path / "p")
    (directory / processed.EMBEDDINGS_FILE).unlink()
    with pytest.raises(PipelineError, match="records word vectors .pretrain_dim 3.: run"):
        processed.load_embeddings(directory)
