"""The Python API, in a fresh interpreter as a user would call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from builders import small_model

from imdb_sentiment.core.errors import PipelineError

SCRIPT = """
import json, sys
import numpy as np
import imdb_sentiment
texts = ["A wonderful, moving film.", "Dull and far too long.", ""]
probs = imdb_sentiment.predict(texts, model=sys.argv[1])
same = imdb_sentiment.predict(texts, model=imdb_sentiment.load_model(sys.argv[1]))
default = imdb_sentiment.predict(texts)  # $IMDB_SENTIMENT_MODEL
import keras
plain = keras.models.load_model(sys.argv[1])  # the layers are registered
direct = np.asarray(plain(np.array(texts, dtype=object))).reshape(-1)
print(json.dumps({"probs": probs.tolist(), "same": same.tolist(), "direct": direct.tolist(),
                  "default": default.tolist(),
                  "empty": imdb_sentiment.predict([], model=sys.argv[1]).tolist()}))
"""


@pytest.mark.slow
def test_predict_and_keras_load_model_in_a_fresh_interpreter(tiny_pipeline):
    env = {**os.environ, "IMDB_SENTIMENT_MODEL": str(tiny_pipeline["model"])}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_pipeline["model"])],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["probs"]) == 3 and all(0 <= p <= 1 for p in out["probs"])
    assert out["probs"] == out["same"] == out["default"]
    assert out["probs"] == pytest.approx(out["direct"], abs=1e-6)
    assert out["empty"] == []


@pytest.mark.parametrize(
    "imports",
    [
        "import imdb_sentiment; import keras",
        "import keras; import imdb_sentiment",
        "import imdb_sentiment; import tensorflow; import keras",  # TensorFlow looks Keras up first
        "import imdb_sentiment; from keras import saving as keras_saving; import keras",
    ],
)
@pytest.mark.slow
def test_keras_load_model_works_after_import_imdb_sentiment(tiny_pipeline, imports):
    """The package registers its layers whenever Keras loads, before or after it."""
    code = (
        f"{imports}\nimport sys\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "print(float(model(keras.ops.convert_to_tensor(['a great film'])).numpy()[0]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiny_pipeline["model"])], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert 0 <= float(done.stdout.strip().splitlines()[-1]) <= 1


def test_unknown_attribute_is_an_attribute_error():
    import imdb_sentiment

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        imdb_sentiment.nope  # noqa: B018


def test_package_import_is_light():
    """`import imdb_sentiment` (what every stage does first) loads no TensorFlow."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, imdb_sentiment; print('tensorflow' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "False"


def test_predict_refuses_non_strings(tiny_pipeline):
    from imdb_sentiment.inference import api

    with pytest.raises(TypeError, match="iterable of str"):
        api.predict([1, 2], model=tiny_pipeline["model"])


@pytest.mark.parametrize("texts", ["one review", b"bytes", None, 5])
def test_predict_refuses_one_string_or_a_non_iterable(tiny_pipeline, texts):
    from imdb_sentiment.inference import api

    with pytest.raises(TypeError, match="iterable of str"):
        api.predict(texts, model=tiny_pipeline["model"])


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ({"good film": 1}, "mapping or a table"),
        (pd.DataFrame({"text": ["good film"]}), "mapping or a table"),
        ({"good film", "dull film"}, "a set has no order"),
        (frozenset({"good film"}), "a set has no order"),
    ],
)
def test_predict_refuses_iterables_that_are_not_the_reviews_in_order(
    small_model_path, texts, reason
):
    """A dict or a DataFrame iterates over its keys or column names, a set in no order."""
    from imdb_sentiment.inference import api

    with pytest.raises(TypeError, match=reason):
        api.predict(texts, model=small_model_path)
    assert len(api.predict(pd.Series(["good film"]), model=small_model_path)) == 1


def test_load_model_reloads_another_folders_file_of_the_same_name_or_a_changed_one(
    tmp_path, monkeypatch, small_model_path
):
    import shutil

    from imdb_sentiment.inference import api

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(small_model_path, tmp_path / folder / "m.keras")
    monkeypatch.chdir(tmp_path / "a")
    first = api.load_model("m.keras")
    assert api.load_model("m.keras") is first
    monkeypatch.chdir(tmp_path / "b")
    second = api.load_model("m.keras")
    assert second is not first
    os.utime("m.keras", ns=(1, 1))  # rewritten since, as by a retraining
    assert api.load_model("m.keras") is not second


@pytest.fixture(scope="module")
def small_model_path(tmp_path_factory):

    return small_model(tmp_path_factory.mktemp("model") / "small.keras")


@pytest.mark.parametrize("batch_size", [-1, 0, True, False, 2.5, "8", None, 10**30 * 1.0])
def test_predict_refuses_a_batch_size_that_is_not_a_size(small_model_path, batch_size):
    """batch_size=-1 once returned uninitialised memory as probabilities."""
    from imdb_sentiment.inference import api

    with pytest.raises(ValueError, match=r"^batch_size=.*: must be an integer >= 1") as err:
        api.predict(["a good film", "a bad plot"], model=small_model_path, batch_size=batch_size)
    assert isinstance(err.value, TypeError)  # either way a caller catches it


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000, np.int64(2)])
def test_predict_batch_sizes_give_the_same_scores(small_model_path, batch_size):
    from imdb_sentiment.inference import api

    texts = ["a good film", "a bad plot", "", "good good good"]
    expected = api.predict(texts, model=small_model_path, batch_size=4)
    assert api.predict(
        texts, model=small_model_path, batch_size=batch_size
    ).tolist() == pytest.approx(expected.tolist(), abs=1e-6)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("missing.keras", r"model='.*missing.keras': .*does not exist"),
        ("model.h5", r"model='.*model.h5': .*must be .*\.keras file"),
        (".", r"model='.*': .*is a directory"),
        (5, r"model=5: must be"),
    ],
)
def test_predict_names_a_bad_model_argument(tmp_path, small_model_path, model, message):
    from imdb_sentiment.inference import api

    if model == "model.h5":
        (tmp_path / model).write_bytes(small_model_path.read_bytes())
    if isinstance(model, str):
        model = str(tmp_path / model)
    with pytest.raises(PipelineError, match=message) as err:
        api.predict(["a film"], model=model)
    assert "--model" not in str(err.value)


def test_load_model_names_its_path_argument(tmp_path):
    from imdb_sentiment.inference import api

    with pytest.raises(PipelineError, match=r"^path='.*nope.keras': .*does not exist") as err:
        api.load_model(tmp_path / "nope.keras")
    assert "--model" not in str(err.value)


def test_load_model_default_that_is_missing_says_how_to_choose_one(tmp_path, monkeypatch):
    from imdb_sentiment.inference import api

    monkeypatch.setenv("IMDB_SENTIMENT_MODEL", str(tmp_path / "absent.keras"))
    with pytest.raises(PipelineError, match=r"path=None: .*absent.keras.*IMDB_SENTIMENT_MODEL"):
        api.load_model()


def test_predict_names_a_text_that_is_not_a_string(small_model_path):
    from imdb_sentiment.inference import api

    with pytest.raises(TypeError, match=r"texts\[2\]=3: must be a str"):
        api.predict(["a", "b", 3], model=small_model_path)


def test_the_project_fallback_is_the_checkout_this_package_came_from():
    from imdb_sentiment.core import locations

    assert (locations.PROJECT / "dvc.yaml").is_file() and (locations.PROJECT / "src").is_dir()


def test_an_empty_path_is_refused_as_empty(small_model_path):
    """Path("") is ".": an empty path was "is a directory, not a .keras file"."""
    from imdb_sentiment.inference import api

    with pytest.raises(PipelineError, match=r"^path='': is empty, not the path of a \.keras"):
        api.load_model("")
    with pytest.raises(PipelineError, match=r"^model='': is empty, not the path of a \.keras"):
        api.predict(["a film"], model="")


def test_a_0d_array_is_refused_naming_texts(small_model_path):
    """NumPy raised its own TypeError: iteration over a 0-d array."""
    from imdb_sentiment.core.errors import ArgumentError
    from imdb_sentiment.inference import api

    with pytest.raises(ArgumentError, match=r"^texts=array\('good film'.*not a 0-d array"):
        api.predict(np.array("good film"), model=small_model_path)
    assert len(api.predict(np.array(["good film"]), model=small_model_path)) == 1


def test_a_model_that_takes_numbers_is_one_line_naming_model(tmp_path):
    """TensorFlow's ValueError traced the graph over dozens of lines."""
    import keras

    from imdb_sentiment.core.errors import ArgumentError
    from imdb_sentiment.inference import api

    rows = keras.Input(shape=(3,))
    model = keras.Model(rows, keras.layers.Dense(1, activation="sigmoid")(rows))
    model.save(tmp_path / "numbers.keras")
    for given, shown in ((model, "<Functional"), (tmp_path / "numbers.keras", "'/")):
        with pytest.raises(ArgumentError, match="model=") as err:
            api.predict(["good film"], model=given)
        message = str(err.value)
        assert message.startswith(f"model={shown}") and "\n" not in message
        assert "the model does not take text" in message
