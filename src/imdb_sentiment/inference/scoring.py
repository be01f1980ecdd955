"""Scoring with a saved end-to-end model: loading it safely, and P(positive) for many texts.

The one path the evaluate stage, the command line, the web app and the Python
API share, so their scores are the same numbers.
"""

from __future__ import annotations

import json
import weakref
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from imdb_sentiment.core.errors import PipelineError, check_arguments, interval
from imdb_sentiment.core.startup import set_thread_pools
from imdb_sentiment.inference.defaults import SCORING_BATCH_SIZE
from imdb_sentiment.modeling import layers as _layers  # noqa: F401  registers the layers for loading

# Batches scored at once, and TensorFlow's thread pools for that (see tune_threads);
# chosen by `make bench` (docs/lab/decisions.md).
SCORING_WORKERS = 3
INTER_OP_THREADS, INTRA_OP_THREADS = 4, 1
# A .keras file is a zip that Keras unpacks as it reads: its config and metadata are
# parsed whole (the project's are a few KB), and the whole is bounded far above any
# model of this project (tens of MB).
MAX_MODEL_CONFIG_BYTES = 16 << 20
MAX_MODEL_BYTES = 2 << 30
CONFIG_ENTRIES = ("config.json", "metadata.json")
PACKAGE_PREFIX = "imdb_sentiment>"  # how Keras names the objects the package registers
MISSING_SHOWN = 5  # missing objects named in the error, at most
MAX_REASON_CHARS = 300


def tune_threads() -> bool:
    """Size TensorFlow's thread pools for scoring several batches at once.

    A batch's recurrent loop is a chain of small steps, each too small to split
    across cores (1 intra-op thread), so the cores are kept busy by running
    several batches side by side (more inter-op threads). Call it first thing:
    returns False, changing nothing, once TensorFlow has started.
    """
    return set_thread_pools(INTER_OP_THREADS, INTRA_OP_THREADS)


def check_keras_file(path: Path) -> None:
    """Refuse a file that is not a .keras zip, or one that unpacks to too much, from the
    zip's central directory and the weights' HDF5 headers alone: before Keras reads any
    of it."""
    if path.suffix != ".keras":
        raise PipelineError(
            f"could not load model {path}: not a .keras file (Keras safe mode "
            "covers only that format)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            _check_unpacked_sizes(path, entries)
            for entry in entries:
                if entry.filename.endswith(".h5"):
                    _check_declared_arrays(path, archive, entry)
    # h5py reports a damaged weights file as RuntimeError or KeyError too; zipfile reports
    # damaged deflated data as zlib.error, an unknown compression as NotImplementedError
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            RuntimeError, KeyError, zlib.error, NotImplementedError):  # fmt: skip
        raise PipelineError(
            f"could not load model {path}: not a Keras model file (a .keras "
            "file is a zip archive; this one is damaged or of another "
            "kind)"
        ) from None


def _check_unpacked_sizes(path: Path, entries: list[zipfile.ZipInfo]) -> None:
    for entry in entries:
        if entry.filename in CONFIG_ENTRIES and entry.file_size > MAX_MODEL_CONFIG_BYTES:
            raise PipelineError(
                f"could not load model {path}: its {entry.filename} unpacks to "
                f"{entry.file_size} bytes, over the {MAX_MODEL_CONFIG_BYTES}-"
                "byte limit"
            )
    total = sum(entry.file_size for entry in entries)
    if total > MAX_MODEL_BYTES:
        raise PipelineError(
            f"could not load model {path}: it unpacks to {total} bytes in all, "
            f"over the {MAX_MODEL_BYTES}-byte limit"
        )


def _check_declared_arrays(path: Path, archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """HDF5 compresses inside the file and stores no unwritten chunk, so a small weights
    file can declare gigabytes, which Keras reads whole before it compares shapes."""
    import h5py

    declared = 0

    def add(_, item) -> None:
        nonlocal declared
        if isinstance(item, h5py.Dataset):
            declared += item.size * item.dtype.itemsize

    with archive.open(entry) as handle, h5py.File(handle, "r") as store:
        store.visititems(add)
    if declared > MAX_MODEL_BYTES:
        raise PipelineError(
            f"could not load model {path}: its {entry.filename} declares "
            f"{declared} bytes of arrays, over the {MAX_MODEL_BYTES}-byte limit"
        )


def load_model(path: str | Path) -> keras.Model:
    """Load an end-to-end model with Keras safe mode on (no arbitrary code, no pickles),
    once check_keras_file has found nothing wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"model file not found: {path} (run `dvc repro` or pass --model)")
    check_keras_file(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # Keras raises many types for a bad file
        if missing := missing_project_objects(path):
            named = ", ".join(missing[:MISSING_SHOWN])
            more = (
                f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
            )
            raise PipelineError(
                f"could not load model {path}: it was saved by another version of "
                f"imdb_sentiment (it uses {named}{more}, which this version does not "
                "have): train it again with `dvc repro`"
            ) from None
        raise PipelineError(f"could not load model {path}: {load_failure(err)}") from None
    if not tf.config.list_physical_devices("GPU"):
        compute_in_float32(model)
    return model


def load_failure(err: Exception) -> str:
    """Why Keras could not load a model, in a line: for an object it could not rebuild,
    the exception it met (its own first line blames the object's code and names nothing)."""
    text = str(err).strip()
    _, found, cause = text.rpartition("Exception encountered:")
    line = ((cause if found else text).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {line[:MAX_REASON_CHARS]}"


def missing_project_objects(path: Path) -> list[str]:
    """The project's layers and functions that the model's config names as registered
    objects and this version of the package does not have: the model was saved by another
    version."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))  # size checked by check_keras_file
    except Exception:  # an unreadable config: Keras' own failure says more
        return []
    names: set[str] = set()
    todo = [config]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            name = node.get("registered_name")
            if isinstance(name, str) and name.startswith(PACKAGE_PREFIX):
                names.add(name)
            todo += node.values()
        elif isinstance(node, list):
            todo += node
    return sorted(
        name[len(PACKAGE_PREFIX) :][:MAX_REASON_CHARS]
        for name in names
        if keras.saving.get_registered_object(name) is None
    )


def compute_in_float32(model: keras.Model) -> None:
    """Make every layer of a model trained in mixed precision compute in float32.

    On a CPU, reduced precision is emulated and slower, and oneDNN has no
    bfloat16 kernels at the pinned instruction set: scoring a bfloat16 layer
    there aborts the process. The weights of a mixed-precision model are
    float32 already, so only the arithmetic changes, and every CPU scores the
    same numbers.
    """
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if layer.dtype_policy.compute_dtype != "float32":
            layer.dtype_policy = "float32"


def _referent(ref: weakref.ref[keras.Model]) -> keras.Model:
    """The model a TracedModel holds weakly, which must be alive while it is traced."""
    model = ref()
    if model is None:
        raise ReferenceError("the model of this TracedModel has been garbage-collected")
    return model


class TracedModel:
    """The model's forward pass as one traced tf.function, called like the model.

    Calling a Keras RNN eagerly runs its time loop op by op; the traced graph
    scores the same numbers many times faster on CPU (docs/lab/decisions.md). The input
    signature (any batch of strings) means it is traced once.
    """

    def __init__(self, model: keras.Model):
        ref = weakref.ref(model)  # the cache below is keyed weakly by this model
        self.forward = tf.function(
            lambda texts: _referent(ref)(texts, training=False),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )

    def __call__(self, texts: np.ndarray, training: bool = False) -> tf.Tensor:
        return self.forward(tf.constant(list(texts), dtype=tf.string))


_TRACED: weakref.WeakKeyDictionary[keras.Model, TracedModel] = weakref.WeakKeyDictionary()


def traced(model: keras.Model) -> TracedModel:
    """The model's TracedModel, made once per model object."""
    if model not in _TRACED:
        _TRACED[model] = TracedModel(model)
    return _TRACED[model]


def predict_texts(
    model: keras.Model,
    texts: Sequence[str],
    batch_size: int = SCORING_BATCH_SIZE,
    progress=None,
    workers: int = 1,
) -> np.ndarray:
    """P(positive) for each text, in input order.

    Texts are batched by length so each batch pads only to its own longest
    review; with masking on (`train.mask_padding`), padding changes nothing, so the
    result does not depend on batching.
    `workers` batches run at once: one batch's recurrent loop is a chain of
    small steps that leaves cores idle. SCORING_WORKERS is the measured
    choice for the CLI, the app and evaluation.
    """
    check_arguments(
        {"batch_size": interval(int, low=1), "workers": interval(int, low=1)},
        batch_size=batch_size,
        workers=workers,
    )
    texts = [str(t) for t in texts]
    forward = traced(model)
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]

    def score(index: np.ndarray) -> np.ndarray:
        output = np.asarray(forward(np.array([texts[i] for i in index], dtype=object)))
        check_output_shape(output, len(index), len(texts))
        return output.reshape(-1)

    probs = np.empty(len(texts), dtype=np.float32)
    with ThreadPoolExecutor(max(1, min(workers, len(batches)))) as pool:
        for index, batch_probs in zip(batches, pool.map(score, batches)):
            probs[index] = batch_probs
            if progress is not None:
                progress(len(index))
    check_probabilities(probs)
    return probs


NOT_A_PROBABILITY_MODEL = "it is not a P(positive) model"


def check_output_shape(output: np.ndarray, batch: int, total: int) -> None:
    """A P(positive) model returns one number per review: shape (n,) or (n, 1)."""
    if output.shape not in ((batch,), (batch, 1)) or not (
        np.issubdtype(output.dtype, np.floating) or np.issubdtype(output.dtype, np.integer)
    ):
        raise PipelineError(
            f"the model returned outputs of shape {output.shape} "
            f"({output.dtype}) for {batch} of {total} reviews: "
            f"{NOT_A_PROBABILITY_MODEL}"
        )


def check_probabilities(probs: np.ndarray) -> None:
    """Every score a probability: finite and in [0, 1]."""
    bad = ~((probs >= 0) & (probs <= 1))  # NaN fails both
    if bad.any():
        raise PipelineError(
            f"the model returned values outside [0, 1] (e.g. "
            f"{probs[bad][0]}) for {int(bad.sum())} of {len(probs)} reviews: "
            f"{NOT_A_PROBABILITY_MODEL}"
        )
