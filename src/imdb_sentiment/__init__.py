"""IMDb sentiment with recurrent networks: a DVC pipeline from archive to served model.

    import imdb_sentiment
    imdb_sentiment.predict(["A wonderful, moving film.", "Dull and far too long."])
    model = imdb_sentiment.load_model()   # Keras model: raw strings in, P(positive) out

The package's Keras layers are registered as soon as Keras is imported, before or
after this package, so `keras.models.load_model("models/model.keras")` works too.
Importing the package loads no TensorFlow: the pipeline's stages import it, and
one of them needs none. `predict` and `load_model` load it on first use
(`imdb_sentiment.inference.api`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["load_model", "predict"]


def __getattr__(name: str):
    if name in __all__:
        # imported by name: the pipeline's stages import this package but never run the
        # API, so it is no part of their code (tests/pipeline/test_stage_deps.py reads imports)
        return getattr(importlib.import_module("imdb_sentiment.inference.api"), name)
    raise AttributeError(f"module 'imdb_sentiment' has no attribute {name!r}")


def _register_layers() -> None:
    # by name, not an import statement: the layers load only with Keras, so they are part
    # of the stages that load Keras (their fingerprints follow import statements), not all
    importlib.import_module("imdb_sentiment.modeling.layers")  # defining them registers them


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it wraps the loader of Keras' own spec so that the layers are
    registered right after Keras has loaded. (A spec may be asked for and never loaded,
    as TensorFlow does to see whether Keras is installed: only loading counts.)"""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        for finder in sys.meta_path:
            find = None if finder is self else getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register_layers()

        spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    _register_layers()
elif not any(isinstance(finder, _RegisterWhenKerasLoads) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
