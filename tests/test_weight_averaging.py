"""Weight averaging (`train.ema_momentum`): the saved weights are the moving average of the
raw ones after each step, validation scores that average, and the raw steps are unchanged."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import TINY_PARAMS, project_params
from imdb_sentiment import params as P
from imdb_sentiment.fitting import AveragedWeights

RNG = np.random.default_rng(3)
X = RNG.normal(size=(24, 5)).astype("float32")
Y = (X[:, 0] > 0).astype("float32")


class RawWeights(keras.callbacks.Callback):
    """The weights at the start and after every training step."""

    def on_train_begin(self, logs=None):
        self.steps = [[w.copy() for w in self.model.get_weights()]]

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.copy() for w in self.model.get_weights()])


def fit(callbacks: list[keras.callbacks.Callback]) -> tuple[keras.Model, dict]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
    history = model.fit(X[:16], Y[:16], validation_data=(X[16:], Y[16:]), batch_size=4,
                        epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
    return model, history.history


def test_the_model_ends_as_the_moving_average_of_the_weights_after_each_step():
    raw = RawWeights()
    model, _ = fit([raw, AveragedWeights(0.8)])
    average = raw.steps[0]
    for t, weights in enumerate(raw.steps[1:], 1):
        m = min(0.8, (1 + t) / (10 + t))
        average = [m * a + (1 - m) * w for a, w in zip(average, weights)]
    assert len(raw.steps) == 1 + 3 * 4
    for got, expected in zip(model.get_weights(), average):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_training_steps_move_the_raw_weights_as_without_averaging():
    with_average, without = RawWeights(), RawWeights()
    fit([with_average, AveragedWeights(0.8)])
    fit([without])
    for a, b in zip(with_average.steps, without.steps):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_validation_scores_the_average():
    model, history = fit([AveragedWeights(0.8)])
    assert history["val_loss"][-1] == pytest.approx(
        model.evaluate(X[16:], Y[16:], batch_size=4, verbose=0), rel=1e-6)
    _, plain = fit([])
    assert history["val_loss"][-1] != plain["val_loss"][-1]


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_ema_momentum_is_checked(value):
    with pytest.raises(P.ParamsError, match="train.ema_momentum"):
        project_params("train", ema_momentum=value)


def test_tiny_pipeline_with_weight_averaging_and_adversarial_training(tiny_pipeline, tmp_path):
    from imdb_sentiment.artifacts import read_json
    from imdb_sentiment.scoring import load_model, predict_texts
    from test_pipeline import train_on_tiny_data

    _, model = train_on_tiny_data(tiny_pipeline, tmp_path, {
        **TINY_PARAMS["train"], "epochs": 2, "ema_momentum": 0.9, "adversarial_epsilon": 0.3})
    assert read_json(model.with_name("model.params.json"))["train"]["ema_momentum"] == 0.9
    probs = predict_texts(load_model(model), ["a great film", "awful"], batch_size=2)
    assert probs.shape == (2,) and np.all(np.isfinite(probs))
