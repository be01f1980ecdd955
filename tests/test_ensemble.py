"""train.ensemble_teacher_share: the saved model averages the network and its n-gram teacher."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from conftest import TINY_PARAMS, project_params, review_text
from imdb_sentiment import baseline
from imdb_sentiment import params as P
from imdb_sentiment.artifacts import read_json
from imdb_sentiment.scoring import load_model, predict_texts

HELD_OUT = ["", "   ", "unseen words only", "Great<br />film!", "not good, not good at all",
            "😀 ünïcode " * 300]


def tiny_parts(seed: int = 3):
    """A randomly initialised end-to-end network and an NB teacher fitted on synthetic reviews."""
    import keras

    from imdb_sentiment.text import build_vocabulary, make_vectorizer
    from imdb_sentiment.zoo import build_classifier, build_end_to_end

    rng = random.Random(seed)
    kinds = ["pos", "neg"] * 40
    texts = [review_text(rng, kind) for kind in kinds]
    labels = np.array([kind == "pos" for kind in kinds], dtype=int)
    keras.utils.set_random_seed(seed)
    vocabulary = build_vocabulary(texts, 60, 1)
    cfg = project_params("train", units=[4], embedding_dim=8, conv_filters=4)
    network = build_end_to_end(make_vectorizer(vocabulary),
                               build_classifier(cfg, len(vocabulary) + 2), 32, "last")
    teacher = baseline.fit_nb(texts, labels, ngrams=3, c=4.0, seed=0)
    held_out = HELD_OUT + [review_text(rng, kind) for kind in ("pos", "neg") * 5]
    return network, teacher, held_out


@pytest.mark.parametrize("share", [0.3, 0.5])
def test_the_ensemble_is_the_weighted_average_and_round_trips(tmp_path, share):
    from imdb_sentiment.train import save_keras
    from imdb_sentiment.zoo import build_ensemble

    network, teacher, texts = tiny_parts()
    expected = ((1 - share) * predict_texts(network, texts)
                + share * teacher.predict_proba(texts))
    model = build_ensemble(network, baseline.nb_to_keras(teacher, 3), share)
    np.testing.assert_allclose(predict_texts(model, texts), expected, atol=1e-5)
    assert not np.allclose(expected, teacher.predict_proba(texts), atol=1e-3)  # both count
    first, second = tmp_path / "a.keras", tmp_path / "b.keras"
    save_keras(model, first)
    save_keras(model, second)
    assert first.read_bytes() == second.read_bytes()
    np.testing.assert_allclose(predict_texts(load_model(first), texts), expected, atol=1e-5)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_ensemble_teacher_share_is_checked(value):
    with pytest.raises(P.ParamsError, match="train.ensemble_teacher_share"):
        project_params("train", ensemble_teacher_share=value)


@pytest.mark.slow
@pytest.mark.parametrize("distill", [False, True])
def test_the_train_stage_saves_the_ensemble_it_reports(tiny_pipeline, tmp_path, distill):
    """The card's ensemble validation accuracy is the saved model's; evaluate scores it in a
    fresh interpreter, and the SavedModel serves the same probabilities."""
    import tensorflow as tf

    from imdb_sentiment import export, processed
    from test_pipeline import run, train_on_tiny_data

    params, model_path = train_on_tiny_data(tiny_pipeline, tmp_path, {
        **TINY_PARAMS["train"], "distill_unlabeled": distill, "ensemble_teacher_share": 0.5})
    fit = read_json(model_path.with_name("model.params.json"))["fit"]
    assert {"teacher_val_accuracy", "teacher_seconds", "ensemble_val_accuracy"} <= set(fit)
    assert ("unlabeled_reviews" in fit) == distill

    model = load_model(model_path)
    data_dir = tiny_pipeline["processed"]
    vocab_size = len(processed.load_vocabulary(data_dir)) + 2
    data = {name: processed.load_split(data_dir, name, vocab_size) for name in ("train", "val")}
    val_texts = processed.split_texts(tiny_pipeline["reviews"], data)["val"]
    accuracy = ((predict_texts(model, val_texts) >= 0.5) == data["val"].labels).mean()
    assert accuracy == pytest.approx(fit["ensemble_val_accuracy"], abs=1e-6)

    run([sys.executable, "-m", "imdb_sentiment.evaluate", "--params", str(params),
         "--reviews", str(tiny_pipeline["reviews"]), "--model", str(model_path),
         "--metrics", str(tmp_path / "eval.json"), "--plots", str(tmp_path / "eval")], tmp_path)
    assert read_json(tmp_path / "eval.json")["n"] == 120

    out = export.export_saved_model(model_path, tmp_path / "serving")
    served = tf.saved_model.load(str(out)).signatures["serving_default"](
        text=tf.constant(HELD_OUT))["probability"].numpy()
    np.testing.assert_allclose(served, predict_texts(model, HELD_OUT), atol=1e-5)


def test_the_default_serves_the_network_alone():
    """The served model is one recurrent network; the teacher only teaches (issue 15)."""
    assert project_params("train").ensemble_teacher_share == 0.0
