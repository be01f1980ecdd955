"""Text cleaning and tokenisation, in TensorFlow ops so the served model runs them too.

The same `standardize` runs when the vocabulary is built, when sequences are
encoded for training and inside the exported end-to-end model, which is what
keeps training and serving from drifting apart.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf

from imdb_sentiment.core.params import MAX_SIZE

PAD, OOV = "", "[UNK]"
# typographic, typewriter and Windows-1252 stand-ins for the apostrophe ("didn’t", "don´t")
APOSTROPHES = "[\u2018\u2019\u02bc\u00b4`\u2032\x91\x92]"


@keras.saving.register_keras_serializable(package="imdb_sentiment")
def standardize(texts: tf.Tensor) -> tf.Tensor:
    """Lower-case, drop HTML markup and entities, keep letters, digits and apostrophes.

    Case is folded in every script, and bytes that are not UTF-8, and NUL, become separators.
    """
    # tf.strings.lower ends a string at its first NUL: the rest would go unread
    texts = tf.strings.regex_replace(texts, r"\x00", " ")
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, APOSTROPHES, "'")
    texts = tf.strings.regex_replace(texts, r"<[^>]{0,100}>", " ")
    texts = tf.strings.regex_replace(texts, r"&[a-z]{2,8};|&#\d{1,6};", " ")
    texts = tf.strings.regex_replace(texts, r"[^\pL\pN']+", " ")
    texts = tf.strings.regex_replace(texts, r"(^|\s)'+|'+(\s|$)", " ")
    return tf.strings.strip(texts)


def tokenize(texts: Iterable[str], batch_size: int = 4096) -> Iterable[list[str]]:
    """Yield the token list of each text, as the vectorizer sees it."""
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        batch = standardize(tf.constant(texts[start : start + batch_size]))
        for row in tf.strings.split(batch).to_list():
            yield [token.decode("utf-8") for token in row]


def build_vocabulary(texts: Iterable[str], vocab_size: int, min_count: int) -> list[str]:
    """Most frequent tokens (ties broken alphabetically, so the file is deterministic).

    The list excludes the padding and OOV entries that TextVectorization adds.
    """
    counts: collections.Counter[str] = collections.Counter()
    for tokens in tokenize(texts):
        counts.update(tokens)
    ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return ranked[: vocab_size - 2]


def make_vectorizer(
    vocabulary: list[str], ragged: bool = False, max_len: int | None = None, keep: str = "first"
) -> keras.layers.TextVectorization:
    """Raw strings -> token ids (0 = padding, 1 = OOV): ragged rows, or rows padded to the
    batch's longest; given `max_len`, each row cut to its first (or last) `max_len` ids
    before it is padded."""
    settings = {
        "standardize": standardize,
        "split": "whitespace",
        "output_mode": "int",
        "vocabulary": vocabulary,
        "name": "vectorizer",
    }
    if max_len is None:
        return keras.layers.TextVectorization(ragged=ragged, **settings)
    if ragged:
        raise ValueError("a vectorizer with a max_len pads its rows: it cannot be ragged too")
    return WindowVectorization(max_len, keep, **settings)


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class WindowVectorization(keras.layers.TextVectorization):
    """Keras' TextVectorization keeping the first (or last) `max_len` token ids of each text,
    at least one step, as int32. Each text is cut before the batch is padded, so a batch
    takes memory for its windows, never for its longest text."""

    def __init__(self, max_len: int, keep: str = "first", **kwargs):
        if not (
            isinstance(max_len, int) and not isinstance(max_len, bool) and 1 <= max_len <= MAX_SIZE
        ):
            raise ValueError(
                f"WindowVectorization max_len must be an integer in [1, {MAX_SIZE}], "
                f"got {max_len!r}"
            )
        if keep not in ("first", "last"):
            raise ValueError(f"WindowVectorization keep must be 'first' or 'last', got {keep!r}")
        if kwargs.get("ragged") or kwargs.get("output_sequence_length") is not None:
            raise ValueError(
                "WindowVectorization pads its windows: no ragged output or fixed length"
            )
        super().__init__(**kwargs)
        self.max_len = max_len
        self.keep = keep

    def call(self, inputs):
        ids = self._lookup_layer.call(self._preprocess(inputs))  # ragged (texts, tokens)
        ids = ids[:, : self.max_len] if self.keep == "first" else ids[:, -self.max_len :]
        ids = tf.cast(ids.to_tensor(0), tf.int32)
        # one padding step more than the longest window, within max_len: never zero steps
        pad = tf.zeros((tf.shape(ids)[0], 1), dtype=tf.int32)
        return tf.concat([ids, pad], axis=1)[:, : self.max_len]

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], None), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "max_len": self.max_len, "keep": self.keep}


def encode(
    vectorizer: keras.layers.TextVectorization,
    texts: list[str],
    max_len: int,
    keep: str = "first",
    batch_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Encode texts as a flat id array plus offsets, keeping the first (or last) `max_len` tokens.

    Returns (ids, offsets, n_truncated); review i is ids[offsets[i]:offsets[i + 1]].
    """
    pieces, lengths, truncated = [], [], 0
    for start in range(0, len(texts), batch_size):
        ragged = vectorizer(tf.constant(texts[start : start + batch_size]))
        full = ragged.row_lengths().numpy()
        truncated += int((full > max_len).sum())
        clipped = ragged[:, :max_len] if keep == "first" else ragged[:, -max_len:]
        pieces.append(clipped.flat_values.numpy().astype(np.int32))
        lengths.append(clipped.row_lengths().numpy())
    lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths_all)]).astype(np.int64)
    ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    return ids, offsets, truncated
