"""The export stage: a TF Serving SavedModel that scores exactly like models/model.keras."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from imdb_sentiment.inference.scoring import predict_texts
from imdb_sentiment.pipeline import export

TEXTS = [
    "",
    "   ",
    "Great wonderful film, loved it.",
    "Awful boring waste <br /><br /> of a movie &amp; the worst plot.",
    "😀 émotions, ünïcode and 'quotes'",
    "The story was dull but the ending was superb. " * 400,  # far past max_len
]


@pytest.fixture(scope="module")
def exported(tiny_pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "serving"
    export.main(["--model", str(tiny_pipeline["model"]), "--out", str(out)])
    return out


def test_layout_is_a_tf_serving_version_directory(exported):
    assert sorted(p.name for p in exported.iterdir()) == ["1"]
    assert (exported / "1" / "saved_model.pb").is_file()
    assert not list(exported.parent.glob(".serving.*"))  # no temporary left behind


def test_serving_signature_matches_keras_model(exported, tiny_model):
    loaded = tf.saved_model.load(str(exported / "1"))
    signature = loaded.signatures["serving_default"]
    _, kwargs = signature.structured_input_signature
    assert list(kwargs) == ["text"]
    assert kwargs["text"].dtype == tf.string and kwargs["text"].shape.as_list() == [None]
    assert list(signature.structured_outputs) == ["probability"]

    served = signature(text=tf.constant(TEXTS))["probability"].numpy()
    assert served.shape == (len(TEXTS),) and served.dtype == np.float32
    np.testing.assert_allclose(served, predict_texts(tiny_model, TEXTS), atol=1e-5)
    # One review at a time too: batching must not change a review's score.
    single = [float(signature(text=tf.constant([t]))["probability"].numpy()[0]) for t in TEXTS]
    np.testing.assert_allclose(single, served, atol=1e-5)


def test_export_replaces_previous_output(tiny_pipeline, tmp_path):
    out = tmp_path / "serving"
    (out / "stale").mkdir(parents=True)
    export.main(["--model", str(tiny_pipeline["model"]), "--out", str(out), "--version", "3"])
    assert sorted(p.name for p in out.iterdir()) == ["3"]


def test_missing_model_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        export.main(["--model", str(tmp_path / "nope.keras"), "--out", str(tmp_path / "s")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: model file not found")
    assert not (tmp_path / "s").exists()
