"""The Python API, in a fresh interpreter as a user would call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import numpy as np
from imdb_sentiment import api
import keras
texts = ["A wonderful, moving film.", "Dull and far too long.", ""]
probs = api.predict(texts, model=sys.argv[1])
same = api.predict(texts, model=api.load_model(sys.argv[1]))
plain = keras.models.load_model(sys.argv[1])  # the layers are registered
direct = np.asarray(plain(np.array(texts, dtype=object))).reshape(-1)
print(json.dumps({"probs": probs.tolist(), "same": same.tolist(), "direct": direct.tolist(),
                  "empty": api.predict([], model=sys.argv[1]).tolist()}))
"""


def test_predict_and_keras_load_model_in_a_fresh_interpreter(tiny_pipeline):
    env = {**os.environ, "IMDB_SENTIMENT_MODEL": str(tiny_pipeline["model"])}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_pipeline["model"])],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["probs"]) == 3 and all(0 <= p <= 1 for p in out["probs"])
    assert out["probs"] == out["same"]
    assert out["probs"] == pytest.approx(out["direct"], abs=1e-6)
    assert out["empty"] == []


def test_package_import_is_light():
    """`import imdb_sentiment` (what every stage does first) loads no TensorFlow."""
    done = subprocess.run([sys.executable, "-c",
                           "import sys, imdb_sentiment; print('tensorflow' in sys.modules)"],
                          capture_output=True, text=True)
    assert done.stdout.strip() == "False"


def test_predict_refuses_non_strings(tiny_pipeline):
    from imdb_sentiment import api

    with pytest.raises(TypeError, match="iterable of str"):
        api.predict([1, 2], model=tiny_pipeline["model"])
