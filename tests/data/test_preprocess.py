"""Preprocess: cleaning, movie-disjoint split, deterministic vocabulary, encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from imdb_sentiment.data import processed
from imdb_sentiment.modeling import text
from imdb_sentiment.pipeline import preprocess


def standardized(raw: str) -> str:
    return text.standardize(tf.constant([raw])).numpy()[0].decode()


def test_standardize_drops_markup_and_punctuation():
    assert standardized("Great<br /><br />movie!") == "great movie"
    assert standardized("It's <i>GREAT</i> &amp; fun...") == "it's great fun"
    assert standardized("'quoted' words") == "quoted words"
    assert standardized("Café naïve 10/10") == "café naïve 10 10"


def test_standardize_reads_every_apostrophe_and_case_alike():
    assert standardized("Didn’t DON´T won`t ‘can’t’") == "didn't don't won't can't"
    assert standardized("CAFÉ ÉTÉ") == standardized("café été") == "café été"
    assert standardized(b"bad \xff\xfe bytes") == "bad bytes"


def test_standardize_reads_past_a_nul():
    assert standardized("\x00Terrible\x00\x00FILM") == "terrible film"


def test_vocabulary_is_deterministic_and_train_only():
    texts = ["b a a c", "c c b d", "a b"]
    vocab = text.build_vocabulary(texts, vocab_size=5, min_count=1)
    assert vocab == ["a", "b", "c"]  # ties broken alphabetically, 5 - 2 reserved slots
    assert text.build_vocabulary(texts, 10, min_count=2) == ["a", "b", "c"]


def test_encode_truncates_and_counts():
    vectorizer = text.make_vectorizer(["good", "bad"], ragged=True)
    ids, offsets, truncated = text.encode(vectorizer, ["good bad good", "", "unknown good"], 2)
    assert offsets.tolist() == [0, 2, 2, 4]
    assert ids.tolist() == [2, 3, 1, 2]
    assert truncated == 1
    ids, offsets, _ = text.encode(vectorizer, ["good bad good", "", "unknown good"], 2, "last")
    assert ids.tolist() == [3, 2, 1, 2]


def frame(n_movies: int = 30, per_movie: int = 4) -> pd.DataFrame:
    rows = []
    for movie in range(n_movies):
        for k in range(per_movie):
            rows.append(("train", len(rows), (movie + k) % 2, f"tt{movie:07d}", "text"))
    rows += [("test", i, i % 2, f"tt9{i:06d}", "t") for i in range(10)]
    return pd.DataFrame(rows, columns=["split", "id", "label", "movie", "text"])


def test_split_is_movie_disjoint_stratified_and_seeded():
    reviews = frame()
    splits = preprocess.make_splits(reviews, 0.2, seed=3)
    assert not set(splits["train"]["movie"]) & set(splits["val"]["movie"])
    assert len(splits["test"]) == 10
    assert len(splits["val"]) + len(splits["train"]) == 120
    assert 0.1 <= len(splits["val"]) / 120 <= 0.3
    assert abs(splits["val"]["label"].mean() - 0.5) < 0.15
    again = preprocess.make_splits(reviews, 0.2, seed=3)
    assert splits["val"]["id"].tolist() == again["val"]["id"].tolist()
    other = preprocess.make_splits(reviews, 0.2, seed=4)
    assert splits["val"]["id"].tolist() != other["val"]["id"].tolist()


def test_stage_outputs(tiny_pipeline):
    out = tiny_pipeline["processed"]
    vocabulary = processed.load_vocabulary(out)
    assert vocabulary[:1] and "" not in vocabulary and "[UNK]" not in vocabulary
    for name in processed.SPLITS:
        split = processed.load_split(out, name, len(vocabulary) + 2)
        assert split.offsets[-1] == len(split.ids)
        assert len(split.labels) == len(split.offsets) - 1 == len(split.review_ids)
        assert split.ids.max() < len(vocabulary) + 2
        assert (split.lengths() <= 32).all()
        assert split.texts is not None and len(split.texts) == len(split)
    assert not (out / "test.npz").exists()  # evaluate reads the test set's raw text
    table = pd.read_parquet(tiny_pipeline["reviews"])
    unlabeled = processed.load_split(out, processed.UNLABELED, len(vocabulary) + 2)
    assert unlabeled.texts == table.loc[table["split"] == "unsup", "text"].tolist()
    assert (unlabeled.labels == -1).all()
    cfg, seed = processed.load_config(out)
    assert cfg.max_len == 32 and cfg.keep_tokens == "last" and seed == 7
    from imdb_sentiment.core.artifacts import read_json

    report = read_json(tiny_pipeline["preprocess_report"])
    assert set(report) >= {"train", "val", "test", "vocabulary_size"}
    assert 0 <= report["test"]["oov_rate"] < 1
    assert 0 <= report["train"]["truncated_share"] <= 1


def test_model_vectorizer_matches_stored_encoding(tiny_pipeline, tiny_model):
    """The served model tokenizes exactly as training data was encoded (no skew)."""
    vocab_size = len(processed.load_vocabulary(tiny_pipeline["processed"])) + 2
    val = processed.load_split(tiny_pipeline["processed"], "val", vocab_size)
    ids = tiny_model.get_layer("vectorizer")(tf.constant(val.texts)).numpy()
    for row, (start, end) in enumerate(zip(val.offsets[:-1], val.offsets[1:])):
        stored = val.ids[start:end]
        assert ids[row, : len(stored)].tolist() == stored.tolist()
        assert not ids[row, len(stored) :].any()


def test_pretrained_vectors_put_cooccurring_words_together():
    from imdb_sentiment.data.embeddings import pretrain

    rng = np.random.default_rng(0)
    good, bad = ["great", "superb", "fine"], ["awful", "dull", "poor"]
    texts = [" ".join(rng.choice(good if i % 2 else bad, size=12)) for i in range(200)]
    vocabulary = text.build_vocabulary(texts, 20, 1)
    vectorizer = text.make_vectorizer(vocabulary, ragged=True)
    ids, offsets, _ = text.encode(vectorizer, texts, 1000)
    vectors = pretrain(ids, offsets, len(vocabulary) + 2, dim=4, seed=0)
    assert vectors.shape == (len(vocabulary) + 2, 4)
    assert not vectors[:2].any()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
    index = {w: i + 2 for i, w in enumerate(vocabulary)}
    same = unit[index["great"]] @ unit[index["superb"]]
    other = unit[index["great"]] @ unit[index["awful"]]
    assert same > other + 0.5
    again = pretrain(ids, offsets, len(vocabulary) + 2, dim=4, seed=0)
    np.testing.assert_array_equal(vectors, again)
