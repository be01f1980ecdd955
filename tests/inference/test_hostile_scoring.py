"""Scoring against hostile models and arguments: a model whose outputs are not P(positive),
a .keras file that unpacks to gigabytes, batch sizes that are not sizes.

`small_model` builds a tiny end-to-end text model in seconds (no pipeline run); the API
and property tests use it too.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from builders import small_model

from imdb_sentiment.core.errors import ArgumentError, PipelineError

MIB = 1 << 20


@pytest.fixture(scope="module")
def small_model_path(tmp_path_factory) -> Path:
    return small_model(tmp_path_factory.mktemp("model") / "small.keras")


class FakeModel:
    """Called like a Keras model on a batch of strings; returns what `make(n)` builds."""

    def __init__(self, make):
        self.make = make

    def __call__(self, texts, training=False):
        import tensorflow as tf

        return tf.py_function(lambda t: self.make(int(tf.shape(t)[0])), [texts], tf.float32)


TEXTS = ["good film", "bad plot", "", "a film", "plot"]


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda n: np.full((n, 2), 0.5, np.float32), r"outputs of shape \(\d, 2\)"),
        (lambda n: np.full((n, 1, 1), 0.5, np.float32), r"outputs of shape \(\d, 1, 1\)"),
        (lambda n: np.full(n + 1, 0.5, np.float32), r"outputs of shape \(\d,\)"),
        (lambda n: np.linspace(-0.5, 1.5, n).astype(np.float32), "values outside"),
        (lambda n: np.full(n, np.nan, np.float32), "values outside"),
        (lambda n: np.full(n, np.inf, np.float32), "values outside"),
    ],
)
def test_outputs_that_are_not_probabilities_are_refused(make, what):
    from imdb_sentiment.inference.scoring import predict_texts

    with pytest.raises(
        PipelineError,
        match=rf"the model returned {what}.* for \d of 5 "
        r"reviews: it is not a P\(positive\) model",
    ) as err:
        predict_texts(FakeModel(make), TEXTS, batch_size=2)
    assert "\n" not in str(err.value)


def test_outputs_of_shape_n_and_n_by_1_are_probabilities():
    from imdb_sentiment.inference.scoring import predict_texts

    flat = predict_texts(FakeModel(lambda n: np.full(n, 0.25, np.float32)), TEXTS, 2)
    column = predict_texts(FakeModel(lambda n: np.full((n, 1), 0.25, np.float32)), TEXTS, 2)
    assert flat.tolist() == column.tolist() == [0.25] * 5


@pytest.mark.parametrize("batch_size", [-1, 0, True, 2.5, "8", None])
def test_predict_texts_refuses_a_batch_size_that_is_not_a_size(batch_size):
    from imdb_sentiment.inference.scoring import predict_texts

    with pytest.raises(ArgumentError, match="batch_size="):
        predict_texts(FakeModel(lambda n: np.zeros(n, np.float32)), TEXTS, batch_size)


def zip_with(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("entry", ["config.json", "metadata.json"])
def test_a_keras_file_whose_config_unpacks_too_large_is_refused_unread(tmp_path, entry):
    """17 MB of config in a 17 KB file: refused from the zip's directory, before Keras
    reads a byte (a 1 GB config took the command line to 2.7 GB)."""
    from imdb_sentiment.inference import scoring

    path = zip_with(
        tmp_path / "bomb.keras",
        {"config.json": b"{}", "metadata.json": b"{}", entry: b" " * (17 * MIB)},
    )
    with pytest.raises(
        PipelineError,
        match=rf"{entry} unpacks to 17825792 bytes, over the "
        "16777216-byte limit",
    ):
        scoring.load_model(path)


def test_a_keras_file_that_unpacks_to_gigabytes_is_refused_unread(tmp_path):
    """The sizes are the zip directory's: one entry claiming 3.75 GiB is enough."""
    from imdb_sentiment.inference import scoring

    path = zip_with(tmp_path / "big.keras", {"config.json": b"{}", "model.weights.h5": b"x"})
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the central directory entry of the weights
    data[entry + 24 : entry + 28] = (0xF0000000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(PipelineError, match=r"unpacks to 40265318\d\d bytes in all, over the"):
        scoring.load_model(path)


@pytest.mark.parametrize("name", ["model.h5", "model.zip", "model"])
def test_only_keras_files_are_loaded(tmp_path, small_model_path, name):
    """Other suffixes reach Keras' legacy loaders, which safe mode does not cover."""
    from imdb_sentiment.inference import scoring

    path = tmp_path / name
    path.write_bytes(small_model_path.read_bytes())
    with pytest.raises(PipelineError, match="not a .keras file"):
        scoring.load_model(path)


@pytest.mark.parametrize("offset", [64, 800, 1200])
def test_a_keras_file_whose_weights_are_damaged_is_one_line(tmp_path, small_model_path, offset):
    """h5py reports some damage as RuntimeError ("bad local heap signature"), not OSError."""
    from imdb_sentiment.inference import scoring

    with zipfile.ZipFile(small_model_path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    weights = entries["model.weights.h5"]
    entries["model.weights.h5"] = weights[:offset] + bytes(512) + weights[offset + 512 :]
    with pytest.raises(PipelineError, match="could not load model .*damaged"):
        scoring.load_model(zip_with(tmp_path / "damaged.keras", entries))


@pytest.fixture(scope="module")
def window_model_entries(tmp_path_factory) -> dict[str, bytes]:
    """The entries of a tiny saved model that uses one of the project's layers."""
    import keras

    from imdb_sentiment.inference import scoring
    from imdb_sentiment.modeling.text import make_vectorizer

    texts = keras.Input(shape=(), dtype="string")
    ids = make_vectorizer(["good", "bad"], max_len=4)(texts)
    hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(4, 2)(ids))
    path = tmp_path_factory.mktemp("window") / "current.keras"
    keras.Model(texts, keras.layers.Dense(1, activation="sigmoid")(hidden)).save(path)
    scoring.load_model(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def with_window_layer_changed(entries: dict[str, bytes], change) -> dict[str, bytes]:
    """The model's entries with `change(config, window_layer)` applied to its config.json."""
    import json

    config = json.loads(entries["config.json"])
    layer = next(x for x in config["config"]["layers"] if x["class_name"] == "WindowVectorization")
    change(config, layer)
    return {**entries, "config.json": json.dumps(config).encode()}


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["RetiredLayer"], "RetiredLayer"),
        ([f"Retired{i}" for i in range(40)], "Retired0, Retired1, .* and 35 more"),
    ],
)
def test_a_model_saved_by_another_version_says_so(tmp_path, window_model_entries, names, shown):
    """Layers the package no longer has (or does not have yet) are named, with the remedy;
    a model naming thousands is still one short line."""

    from imdb_sentiment.inference import scoring

    def rename(config: dict, layer: dict) -> None:
        layer["registered_name"] = f"imdb_sentiment>{names[0]}"
        config["unused"] = [{"registered_name": f"imdb_sentiment>{name}"} for name in names[1:]]

    entries = with_window_layer_changed(window_model_entries, rename)
    with pytest.raises(
        PipelineError,
        match=rf"saved by another version of imdb_sentiment \(it uses {shown}, which this "
        r"version does not have\): train it again with `dvc repro`$",
    ):
        scoring.load_model(zip_with(tmp_path / "old.keras", entries))


def test_a_layer_keras_cannot_rebuild_is_named_with_its_cause(tmp_path, window_model_entries):
    """Keras' own first line blames the object's code; the cause is what it met."""

    from imdb_sentiment.inference import scoring

    entries = with_window_layer_changed(
        window_model_entries, lambda config, layer: layer["config"].pop("max_len")
    )
    with pytest.raises(PipelineError, match=r"missing 1 required positional argument: 'max_len'"):
        scoring.load_model(zip_with(tmp_path / "old.keras", entries))


@pytest.mark.parametrize("entry", ["config.json", "model.weights.h5"])
@pytest.mark.parametrize("damage", ["deflated data", "compression method"])
def test_a_damaged_zip_entry_is_one_line(tmp_path, window_model_entries, entry, damage):
    """zipfile reports these as zlib.error and NotImplementedError, not BadZipFile."""
    from imdb_sentiment.inference import scoring

    path = zip_with(tmp_path / "damaged.keras", window_model_entries)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(entry)
    if damage == "deflated data":
        header = info.header_offset
        name_length = int.from_bytes(data[header + 26 : header + 28], "little")
        extra_length = int.from_bytes(data[header + 28 : header + 30], "little")
        start = header + 30 + name_length + extra_length
        data[start + 2 : start + 10] = b"\xff" * 8
    else:  # zipfile takes the method from the central directory's record of the entry
        record = data.index(b"PK\x01\x02")
        while data[record + 46 : record + 46 + len(entry)] != entry.encode():
            record = data.index(b"PK\x01\x02", record + 4)
        data[record + 10 : record + 12] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(PipelineError, match=f"could not load model {path}") as err:
        scoring.load_model(path)
    assert "\n" not in str(err.value)


def test_the_small_model_scores(small_model_path):
    from imdb_sentiment.inference.scoring import load_model, predict_texts

    probs = predict_texts(load_model(small_model_path), TEXTS, batch_size=2)
    assert probs.shape == (5,) and ((probs > 0) & (probs < 1)).all()


def test_weights_that_unpack_beyond_the_bound_inside_hdf5_are_refused_unread(
    tmp_path, small_model_path, monkeypatch
):
    """HDF5 compresses inside the file, and unwritten chunks take no room at all: a few KB
    of model.weights.h5 can declare gigabytes, which Keras reads whole before it compares
    shapes. The declared sizes are read first (here the bound is lowered to 16 MiB)."""
    import h5py

    from imdb_sentiment.inference import scoring

    weights = tmp_path / "model.weights.h5"
    with h5py.File(weights, "w") as store:
        store.create_dataset(
            "layers/dense/vars/0",
            shape=(16 << 20,),
            dtype="float32",
            chunks=(1 << 16,),
            compression="gzip",
        )  # 64 MiB, nothing written
    assert weights.stat().st_size < 64 << 10
    with zipfile.ZipFile(small_model_path) as source:
        entries = {info.filename: source.read(info) for info in source.infolist()}
    entries["model.weights.h5"] = weights.read_bytes()
    path = zip_with(tmp_path / "bomb.keras", entries)
    monkeypatch.setattr(scoring, "MAX_MODEL_BYTES", 16 << 20)
    with pytest.raises(
        PipelineError,
        match="model.weights.h5 declares 67108864 bytes of arrays, over the 16777216-byte limit",
    ):
        scoring.load_model(path)


# A recurrent text model trained in mixed bfloat16 (as on a GPU), then scored here with the
# stages' pinned CPU kernels, which have no bfloat16 arithmetic.
BFLOAT16_SCRIPT = """
import sys
import keras
from imdb_sentiment.inference.scoring import load_model, predict_texts
keras.mixed_precision.set_global_policy("mixed_bfloat16")
vectorizer = keras.layers.TextVectorization(output_sequence_length=8, vocabulary=["good", "bad"])
inputs = keras.Input(shape=(), dtype="string")
hidden = keras.layers.Embedding(8, 4)(vectorizer(inputs))
hidden = keras.layers.Bidirectional(keras.layers.GRU(4))(hidden)
outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32")(hidden)
keras.Model(inputs, outputs).save(sys.argv[1])
keras.mixed_precision.set_global_policy("float32")
model = load_model(sys.argv[1])
print(model.get_layer("embedding").dtype_policy.name, predict_texts(model, ["good", "bad"]).shape)
"""


@pytest.mark.slow
def test_a_mixed_bfloat16_model_is_scored_in_float32_on_a_cpu(tmp_path):
    """Scoring a bfloat16 layer with AVX2-pinned oneDNN kernels aborts the whole process."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "CUDA_VISIBLE_DEVICES": "-1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    done = subprocess.run(
        [sys.executable, "-c", BFLOAT16_SCRIPT, str(tmp_path / "bf16.keras")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["float32", "(2,)"]
