"""The Python API: the trained model on plain Python strings.

    import imdb_sentiment
    imdb_sentiment.predict(["A wonderful, moving film.", "Dull and far too long."])
    model = imdb_sentiment.load_model()   # the Keras model: raw strings in, P(positive) out

The package loads this module on the first use of `predict` or `load_model`.
Loading it pins the numeric kernels as the evaluate stage does (so scores equal
its scores when nothing loaded NumPy or TensorFlow before) and sizes
TensorFlow's thread pools as the CLI does (when TensorFlow has not run yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from imdb_sentiment.core import locations, startup

startup.pin_kernels()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from imdb_sentiment.inference import labelling, scoring  # noqa: E402  (scoring registers the layers)

scoring.tune_threads()  # the CLI's thread pools, unless TensorFlow already runs

_loaded: dict[Path, keras.Model] = {}


def load_model(path: str | Path | None = None) -> keras.Model:
    """The end-to-end model at `path` (default: $IMDB_SENTIMENT_MODEL, models/model.keras
    here, else the project's), loaded once per path in Keras safe mode."""
    path = Path(path) if path is not None else locations.default_model()
    if path not in _loaded:
        _loaded[path] = scoring.load_model(path)
    return _loaded[path]


def predict(texts: Iterable[str], model: keras.Model | str | Path | None = None,
            batch_size: int = labelling.DEFAULT_BATCH_SIZE) -> np.ndarray:
    """P(positive) for each text, in order, as the CLI and the evaluate stage compute it.

    `model` is a loaded model or a path (default: `load_model()`'s). Any string works,
    empty ones included (they get the model's score for no words).
    """
    if isinstance(texts, str | bytes):
        raise TypeError("predict takes an iterable of str, not one string: wrap a single "
                        "review in a list")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"predict takes an iterable of str, not {type(texts).__name__}") from None
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("predict takes an iterable of str")
    if not isinstance(model, keras.Model):
        model = load_model(model)
    if not texts:
        return np.zeros(0, dtype=np.float32)
    return labelling.probabilities(model, texts, batch_size)
