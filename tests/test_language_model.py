"""Language-model pretraining: no state sees a word it predicts, the loss's arithmetic,
pretraining that learns and changes the classifier in place, and a tiny pipeline run."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_PARAMS, project_params
from imdb_sentiment import language_model as lm
from imdb_sentiment import params as P
from imdb_sentiment.artifacts import read_json
from imdb_sentiment.scaling import precision_policy
from imdb_sentiment.zoo import build_classifier
from test_pipeline import train_on_tiny_data

VOCAB = 12
IDS = np.array([[5, 6, 7, 8, 9, 10, 11, 4, 3, 0, 0],
                [3, 4, 11, 2, 0, 0, 0, 0, 0, 0, 0],
                [7, 1, 9, 2, 2, 5, 8, 6, 10, 11, 0]], dtype="int32")


def language_model(words: int = 6, **override) -> lm.LanguageModelFit:
    # no word-pair vectors: a word's pair holds the word before it, which the backward
    # direction predicts (pretraining is not defined with them)
    cfg = project_params("train", **{"units": [4], "embedding_dim": 3, "conv_filters": 5,
                                     "word_pair_buckets": 0,
                                     "embedding_dropout": 0.0, "dropout": 0.0,
                                     "lm_pretrain_epochs": 1, "lm_pretrain_words": words,
                                     **override})
    keras.utils.set_random_seed(0)
    return lm.LanguageModelFit(build_classifier(cfg, VOCAB), cfg, VOCAB)


@pytest.mark.parametrize(("width", "stride"), [(3, 2), (1, 1), (4, 4), (5, 2)])
def test_targets_are_the_nearest_words_a_state_has_not_read(width, stride):
    forward, backward = (p.numpy() for p in lm.target_positions(6, width, stride))
    for t in range(6):
        last_read = (t + 1) * stride - 1  # window t ends there (layers.StridedConv)
        first_read = last_read - width + 1
        assert forward[t].tolist() == list(range(last_read + 1, last_read + 1 + stride))
        assert backward[t].tolist() == list(range(first_read - 1, first_read - 1 - stride, -1))


@pytest.mark.parametrize("override", [
    {}, {"conv_filters": 0}, {"bidirectional": False}, {"units": [4, 3]}, {"pooling": "last"},
    {"pooling": "mean"}, {"mask_padding": False}, {"mask_padding": False, "conv_filters": 0},
    {"conv_width": 5, "conv_stride": 2}, {"conv_width": 4, "conv_stride": 4},
    {"model": "lstm"}])
def test_no_state_sees_a_word_it_predicts_and_each_sees_the_word_next_to_it(override):
    """Changing any word a real step predicts leaves that step's logits as they were;
    changing the word just before a forward target (after a backward one) mostly moves them."""
    model = language_model(**override)
    steps, *logits = (np.asarray(x) for x in model(IDS))
    forward_and_backward = lm.target_positions(steps.shape[1], model.width, model.stride)
    checked = near = moved = 0
    for row in range(len(IDS)):
        for direction, positions in zip(range(len(logits)), forward_and_backward):
            for t in np.flatnonzero(steps[row]):
                targets = positions.numpy()[t]
                for position in targets:
                    if not 0 <= position < len(IDS[row]) or IDS[row, position] == 0:
                        continue
                    after = np.asarray(model(changed_word(row, position))[1 + direction])
                    np.testing.assert_array_equal(after[row, t], logits[direction][row, t])
                    checked += 1
                nearest_read = targets[0] - 1 if direction == 0 else targets[0] + 1
                if 0 <= nearest_read < len(IDS[row]) and IDS[row, nearest_read] > 0:
                    after = np.asarray(model(changed_word(row, nearest_read))[1 + direction])
                    near += 1
                    moved += not np.array_equal(after[row, t], logits[direction][row, t])
    assert checked >= 10
    # a ReLU of the convolution can be off for both words, so not every one moves its step
    assert near >= 10 and moved >= 0.75 * near


def changed_word(row: int, position: int) -> np.ndarray:
    """IDS with one real word replaced by another."""
    changed = IDS.copy()
    changed[row, position] = 2 if IDS[row, position] != 2 else 3
    return changed


def test_word_loss_is_the_mean_cross_entropy_of_the_real_targets():
    model = language_model(words=6)
    steps, forward, backward = (np.asarray(x) for x in model(IDS))
    positions = [p.numpy() for p in lm.target_positions(steps.shape[1], model.width,
                                                         model.stride)]
    terms = []
    for logits, where in zip((forward, backward), positions):
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        for row in range(len(IDS)):
            for t in np.flatnonzero(steps[row]):
                for position in where[t]:
                    if 0 <= position < IDS.shape[1] and IDS[row, position] > 0:
                        word = IDS[row, position]
                        terms.append(-log_probs[row, t, word if word < 6 else 1])
    loss = model.word_loss(tf.constant(IDS), *model(IDS)).numpy()
    assert loss == pytest.approx(np.mean(terms), rel=1e-5)


def test_rare_words_are_one_class_and_padding_stays_none():
    assert lm.word_classes(tf.constant([0, 1, 2, 5, 6, 11]), 6).numpy().tolist() == [
        0, 1, 2, 5, 1, 1]


def pretrained(**override) -> tuple[keras.Model, list[np.ndarray], dict]:
    """A small two-layer classifier before (its weights) and after 8 epochs of pretraining
    on a corpus of one repeated pattern, with its pretraining summary."""
    cfg = project_params("train", **{"units": [8, 4], "embedding_dim": 8, "conv_filters": 8,
                                     "word_pair_buckets": 0,
                                     "embedding_dropout": 0.0, "lm_pretrain_epochs": 8,
                                     "lm_pretrain_words": 8, "learning_rate": 0.02,
                                     "pooling": "mean", **override})
    keras.utils.set_random_seed(0)
    with precision_policy(cfg.mixed_precision):
        classifier = build_classifier(cfg, VOCAB)
        before = [w.copy() for w in classifier.get_weights()]
        repeated = np.tile(np.arange(2, 12, dtype="int32"), (32, 3))  # ids 8-11 are rare
        dataset = tf.data.Dataset.from_tensor_slices((repeated, np.zeros(32, "float32")))
        summary = lm.pretrain(classifier, cfg, VOCAB, dataset.batch(8), verbose=0)
    return classifier, before, summary


def test_pretraining_lowers_the_word_loss_and_changes_the_first_layers_in_place():
    classifier, before, summary = pretrained()
    assert summary["lm_losses"][-1] < 0.5 * summary["lm_losses"][0]
    changed = {variable.path for variable, old in zip(classifier.weights, before)
               if not np.array_equal(variable.numpy(), old)}
    assert changed == {variable.path for variable in classifier.weights
                       if variable.path.split("/")[0] in ("embedding", "strided_conv", "gru_0",
                                                          "gru_0_backward")}


def test_pretraining_learns_the_same_under_float16_loss_scaling():
    losses = pretrained()[2]["lm_losses"]
    np.testing.assert_allclose(pretrained(mixed_precision="mixed_float16")[2]["lm_losses"],
                               losses, rtol=0.05)


@pytest.mark.parametrize(("key", "value"), [("lm_pretrain_epochs", -1),
                                            ("lm_pretrain_epochs", 101),
                                            ("lm_pretrain_words", 2)])
def test_pretraining_params_are_checked(key, value):
    with pytest.raises(P.ParamsError, match=f"train.{key}"):
        project_params("train", **{key: value})


@pytest.mark.slow
def test_tiny_pipeline_with_pretraining_saves_the_plain_network(tiny_pipeline, tmp_path):
    from imdb_sentiment.scoring import load_model, predict_texts

    _, model = train_on_tiny_data(tiny_pipeline, tmp_path, {**TINY_PARAMS["train"],
                                                             "word_pair_buckets": 0,
                                                             "lm_pretrain_epochs": 2,
                                                             "lm_pretrain_words": 50})
    card = read_json(model.with_name("model.params.json"))
    assert card["train"]["lm_pretrain_epochs"] == 2
    assert len(card["fit"]["lm_losses"]) == 2 and card["fit"]["lm_seconds"] > 0
    loaded = load_model(model)
    assert "next_words" not in model.read_bytes().decode("latin-1")
    probs = predict_texts(loaded, ["a great film", "awful"], batch_size=2)
    assert probs.shape == (2,) and np.all(np.isfinite(probs))
