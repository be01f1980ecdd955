"""Scoring with a saved end-to-end model: loading it safely, and P(positive) for many texts.

The one path the evaluate stage, the command line, the web app and the Python
API share, so their scores are the same numbers.
"""

from __future__ import annotations

import weakref
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from imdb_sentiment.modeling import layers as _layers  # noqa: F401  registers the layers for loading
from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.core.startup import set_thread_pools


# Batches scored at once, and TensorFlow's thread pools for that (see tune_threads);
# chosen by `make bench` (docs/decisions.md).
SCORING_WORKERS = 3
INTER_OP_THREADS, INTRA_OP_THREADS = 4, 1


def tune_threads() -> bool:
    """Size TensorFlow's thread pools for scoring several batches at once.

    A batch's recurrent loop is a chain of small steps, each too small to split
    across cores (1 intra-op thread), so the cores are kept busy by running
    several batches side by side (more inter-op threads). Call it first thing:
    returns False, changing nothing, once TensorFlow has started.
    """
    return set_thread_pools(INTER_OP_THREADS, INTRA_OP_THREADS)


def load_model(path: str | Path) -> keras.Model:
    """Load an end-to-end model with Keras safe mode on (no arbitrary code, no pickles)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"model file not found: {path} (run `dvc repro` or pass --model)")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise PipelineError(f"could not load model {path}: not a Keras model file (a .keras "
                            "file is a zip archive; this one is damaged or of another kind)")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # Keras raises many types for a bad file
        raise PipelineError(f"could not load model {path}: {type(err).__name__}: {err}") from None


class TracedModel:
    """The model's forward pass as one traced tf.function, called like the model.

    Calling a Keras RNN eagerly runs its time loop op by op; the traced graph
    scores the same numbers many times faster on CPU (docs/decisions.md). The input
    signature (any batch of strings) means it is traced once.
    """

    def __init__(self, model: keras.Model):
        ref = weakref.ref(model)  # the cache below is keyed weakly by this model
        self.forward = tf.function(lambda texts: ref()(texts, training=False),
                                   input_signature=[tf.TensorSpec([None], tf.string)])

    def __call__(self, texts: np.ndarray, training: bool = False) -> tf.Tensor:
        return self.forward(tf.constant(list(texts), dtype=tf.string))


_TRACED: weakref.WeakKeyDictionary[keras.Model, TracedModel] = weakref.WeakKeyDictionary()


def traced(model: keras.Model) -> TracedModel:
    """The model's TracedModel, made once per model object."""
    if model not in _TRACED:
        _TRACED[model] = TracedModel(model)
    return _TRACED[model]


def predict_texts(model: keras.Model, texts: Sequence[str], batch_size: int = 256,
                  progress=None, workers: int = 1) -> np.ndarray:
    """P(positive) for each text, in input order.

    Texts are batched by length so each batch pads only to its own longest
    review; with masking on (`train.mask_padding`), padding changes nothing, so the
    result does not depend on batching.
    `workers` batches run at once: one batch's recurrent loop is a chain of
    small steps that leaves cores idle. SCORING_WORKERS is the measured
    choice for the CLI, the app and evaluation.
    """
    texts = [str(t) for t in texts]
    forward = traced(model)
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]

    def score(index: np.ndarray) -> np.ndarray:
        return np.asarray(forward(np.array([texts[i] for i in index], dtype=object))).reshape(-1)

    probs = np.empty(len(texts), dtype=np.float32)
    with ThreadPoolExecutor(max(1, min(workers, len(batches)))) as pool:
        for index, batch_probs in zip(batches, pool.map(score, batches)):
            probs[index] = batch_probs
            if progress is not None:
                progress(len(index))
    return probs
