"""Adversarial training: the perturbation's size and direction, the step's arithmetic,
and a tiny pipeline run with it on. `AdversarialFit.train_step` follows Keras' own and uses
its private names for the loss; the arithmetic test fails when they change."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from builders import TINY_PARAMS, project_params, tiny_network, train_on_tiny_data

from imdb_sentiment.core import params as P
from imdb_sentiment.core.artifacts import read_json
from imdb_sentiment.modeling.adversarial import AdversarialFit
from imdb_sentiment.modeling.zoo import build_classifier

IDS = np.array([[2, 3, 4, 0, 0], [5, 2, 0, 0, 0], [3, 3, 3, 3, 5]], dtype="int32")
LABELS = np.array([1.0, 0.0, 1.0], dtype="float32")


def classifier(**override) -> keras.Model:
    cfg = tiny_network(units=[4], embedding_dim=3, embedding_dropout=0.0, dropout=0.0, **override)
    keras.utils.set_random_seed(0)
    return build_classifier(cfg, vocab_size=6)


WORD_PAIRS = {"word_pair_buckets": 11, "word_pair_dim": 2}


@pytest.mark.parametrize(
    ("override", "width"), [({"word_pair_buckets": 0}, 3), (WORD_PAIRS, 3 + 2)]
)
def test_perturbation_is_epsilon_times_the_mean_word_length_along_the_gradient(override, width):
    fit = AdversarialFit(classifier(**override), epsilon=0.5)
    embedded = fit.embed(IDS)
    # with word pairs, each word's vector and its pair's are pushed together
    assert embedded.shape[-1] == width
    gradient = tf.random.stateless_normal(embedded.shape, seed=[1, 2])
    r = fit.perturbation(tf.constant(IDS), embedded, gradient).numpy()
    lengths = np.linalg.norm(embedded.numpy(), axis=-1)
    for row, ids in enumerate(IDS):
        real = ids > 0
        expected = 0.5 * lengths[row][real].mean()  # padding does not count
        assert np.linalg.norm(r[row]) == pytest.approx(expected, rel=1e-5)
        cosine = np.sum(r[row] * gradient[row].numpy()) / (
            np.linalg.norm(r[row]) * np.linalg.norm(gradient[row].numpy())
        )
        assert cosine == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("override", [{"word_pair_buckets": 0}, WORD_PAIRS])
def test_a_vanishing_perturbation_doubles_the_plain_step(override):
    """With epsilon near 0 the perturbed loss equals the clean one, so one SGD step of
    adversarial training moves the weights as a plain step at twice the learning rate."""
    plain, wrapped = classifier(**override), classifier(**override)
    plain.compile(keras.optimizers.SGD(0.2), "binary_crossentropy")
    fit = AdversarialFit(wrapped, epsilon=1e-9)
    fit.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    plain.fit(IDS, LABELS, batch_size=3, epochs=1, verbose=0, shuffle=False)
    fit.fit(IDS, LABELS, batch_size=3, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), wrapped.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def clean_pass(fit: AdversarialFit):
    """IDS as tokens, their word vectors, the clean answers, each review's loss, and the
    gradient of the summed loss in the word vectors (the adversarial direction)."""
    ids = tf.constant(IDS)
    with tf.GradientTape() as tape:
        embedded = fit.embed(ids)
        tape.watch(embedded)
        answers = fit.from_embedded([ids, embedded])
        losses = keras.losses.binary_crossentropy(LABELS[:, None], answers)
        total = tf.reduce_sum(losses)
    return ids, embedded, answers, losses, tape.gradient(total, embedded)


def test_the_perturbation_raises_the_loss():
    """The step learns from the point of a higher loss than the clean one."""
    fit = AdversarialFit(classifier(), epsilon=1.0)
    ids, embedded, _, loss, gradient = clean_pass(fit)
    shifted = embedded + fit.perturbation(ids, embedded, gradient)
    raised = keras.losses.binary_crossentropy(LABELS[:, None], fit.from_embedded([ids, shifted]))
    assert np.all(raised.numpy() > loss.numpy())


@pytest.mark.slow
def test_tiny_pipeline_with_adversarial_training_saves_the_plain_network(tiny_pipeline, tmp_path):
    from imdb_sentiment.inference.scoring import load_model, predict_texts

    _, model = train_on_tiny_data(
        tiny_pipeline, tmp_path, {**TINY_PARAMS["train"], "adversarial_epsilon": 0.3}
    )
    card = read_json(model.with_name("model.params.json"))
    assert card["train"]["adversarial_epsilon"] == 0.3
    loaded = load_model(model)  # safe mode: nothing of the wrapper is saved
    assert "adversarial" not in model.read_bytes().decode("latin-1")
    probs = predict_texts(loaded, ["a great film", "awful"], batch_size=2)
    assert probs.shape == (2,) and np.all(np.isfinite(probs))


@pytest.mark.parametrize("value", [-0.1, 10.5])
def test_adversarial_epsilon_is_checked(value):
    with pytest.raises(P.ParamsError, match="train.adversarial_epsilon"):
        project_params("train", adversarial_epsilon=value)
