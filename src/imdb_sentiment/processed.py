"""The preprocessed-data format: what preprocess writes and train and the benchmarks read.

A directory holding `vocab.txt` (one token a line, padding and OOV excluded),
`train.npz`, `val.npz` and `test.npz` (one `Split` each), `embeddings.npy`
(optional word vectors) and `preprocess.json` (the params that made it).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imdb_sentiment import params as P
from imdb_sentiment.artifacts import json_text, read_json
from imdb_sentiment.errors import PipelineError

SPLITS = ("train", "val", "test")
VOCAB_FILE = "vocab.txt"
EMBEDDINGS_FILE = "embeddings.npy"
CONFIG_FILE = "preprocess.json"
SPLIT_KEYS = ("ids", "offsets", "labels", "review_ids")


@dataclass(frozen=True)
class Split:
    """Encoded reviews: review i is ids[offsets[i]:offsets[i + 1]], with labels[i]."""

    ids: np.ndarray  # int32 token ids (0 padding, 1 OOV)
    offsets: np.ndarray  # int64, len(reviews) + 1
    labels: np.ndarray  # int8 0/1, or float32 soft targets
    review_ids: np.ndarray  # int32 ids within the review's class folder

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def write(directory: Path, vocabulary: list[str], splits: dict[str, Split],
          embeddings: np.ndarray | None, cfg: P.PreprocessParams, seed: int) -> None:
    """Write the format into an empty `directory` (the caller makes it atomic)."""
    directory.mkdir()
    (directory / VOCAB_FILE).write_text("".join(f"{t}\n" for t in vocabulary), encoding="utf-8")
    for name, split in splits.items():
        np.savez(directory / f"{name}.npz", **{key: getattr(split, key) for key in SPLIT_KEYS})
    if embeddings is not None:
        np.save(directory / EMBEDDINGS_FILE, embeddings)
    (directory / CONFIG_FILE).write_text(json_text({**P.to_dict(cfg), "seed": seed}),
                                         encoding="utf-8")


def load_split(directory: str | Path, name: str) -> Split:
    path = Path(directory) / f"{name}.npz"
    try:
        with np.load(path) as data:
            return Split(**{key: data[key] for key in SPLIT_KEYS})
    except FileNotFoundError:
        raise PipelineError(f"{path} not found: run the preprocess stage first") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as err:
        raise PipelineError(f"{path} is not a preprocess output: {err}") from None


def load_vocabulary(directory: str | Path) -> list[str]:
    path = Path(directory) / VOCAB_FILE
    try:
        return path.read_text(encoding="utf-8").split("\n")[:-1]
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"cannot read the vocabulary {path}: {err}") from None


def load_embeddings(directory: str | Path) -> np.ndarray | None:
    """The pretrained word vectors, or None when preprocess made none."""
    path = Path(directory) / EMBEDDINGS_FILE
    if not path.is_file():
        return None
    try:
        return np.load(path)
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path} is not a word-vector array: {err}") from None


def load_config(directory: str | Path) -> tuple[P.PreprocessParams, int]:
    """The preprocess params and seed the directory was made with."""
    raw = dict(read_json(Path(directory) / CONFIG_FILE))
    seed = raw.pop("seed", None)
    return P.from_dict("preprocess", raw), seed
