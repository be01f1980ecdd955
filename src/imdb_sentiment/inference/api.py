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

import os
from collections.abc import Iterable
from pathlib import Path

from imdb_sentiment.core import locations, startup
from imdb_sentiment.core.errors import (
    NONE,
    ArgumentError,
    Constraint,
    check_arguments,
    interval,
    shown,
)
from imdb_sentiment.inference.defaults import SCORING_BATCH_SIZE

startup.pin_kernels()

with startup.quiet_tensorflow():  # no absl, CUDA or oneDNN lines, as in the CLI and the stages
    import keras
    import numpy as np

    from imdb_sentiment.inference import labelling, scoring  # scoring registers the layers

scoring.tune_threads()  # the CLI's thread pools, unless TensorFlow already runs

_loaded: dict[tuple[Path, int, int, int], keras.Model] = {}


def _keras_file_problem(value: str | os.PathLike) -> str | None:
    """What keeps `value` from naming a .keras file, if anything."""
    if not os.fspath(value):  # Path("") is ".", the working directory
        return "is empty, not the path of a .keras file"
    path = Path(value)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a NUL in the name, a name too long
        return "is not a usable path"
    if not exists:
        return "the file does not exist"
    if path.is_dir():
        return "is a directory, not a .keras file"
    if path.suffix != ".keras":
        return "must be the path of a .keras file (Keras 3's format; safe mode covers no other)"
    return None


KERAS_FILE = Constraint(
    (str, os.PathLike), "the path of an existing .keras file", _keras_file_problem
)
KERAS_MODEL, TEXTS = labelling.KERAS_MODEL, labelling.TEXTS
BATCH_SIZE = interval(int, low=1)


def _model_path(value: str | os.PathLike | None, name: str) -> Path:
    """The .keras file `value` names (None: the default model); errors name `name=`."""
    check_arguments({name: (KERAS_FILE, NONE)}, **{name: value})
    if value is not None:
        return Path(value)
    path = locations.default_model()
    if (problem := _keras_file_problem(path)) is not None:
        raise ArgumentError(
            f"{name}=None: the default model {shown(path)}: {problem} "
            f"(run `dvc repro`, set ${locations.MODEL_ENV} or pass {name}=)"
        )
    return path


def load_model(path: str | Path | None = None) -> keras.Model:
    """The end-to-end model at `path` (default: $IMDB_SENTIMENT_MODEL, models/model.keras
    here, else the project's), in Keras safe mode; loaded again only when another file, or a
    changed one, is asked for."""
    path = _model_path(path, "path")
    # keyed by the file itself: another folder's file of the same name, or a file rewritten
    # since (a retrained model), is loaded anew
    try:
        status = path.stat()
        key = (path.resolve(), status.st_ino, status.st_size, status.st_mtime_ns)
    except OSError:  # gone since it was checked: loading it says so
        return scoring.load_model(path)
    if key not in _loaded:
        _loaded.clear()  # one model held at a time, so memory stays bounded
        _loaded[key] = scoring.load_model(path)
    return _loaded[key]


def predict(
    texts: Iterable[str],
    model: keras.Model | str | Path | None = None,
    batch_size: int = SCORING_BATCH_SIZE,
) -> np.ndarray:
    """P(positive) for each text, in order, as the CLI and the evaluate stage compute it.

    `model` is a loaded model or the path of a .keras file (default: `load_model()`'s).
    Any string works, empty ones included (they get the model's score for no words).
    Arguments of the wrong type or value raise ArgumentError (a TypeError and a
    ValueError) naming them.
    """
    check_arguments(
        {"texts": TEXTS, "model": (KERAS_MODEL, KERAS_FILE, NONE), "batch_size": BATCH_SIZE},
        texts=texts,
        model=model,
        batch_size=batch_size,
    )
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ArgumentError(
                f"texts[{index}]={shown(text)}: must be a str (texts is an iterable of str)"
            )
    loaded = model if isinstance(model, keras.Model) else load_model(_model_path(model, "model"))
    if not texts:
        return np.zeros(0, dtype=np.float32)
    try:
        return labelling.probabilities(loaded, texts, int(batch_size))
    except labelling.NotATextModel as err:
        raise ArgumentError(f"model={shown(model)}: {err}") from None
