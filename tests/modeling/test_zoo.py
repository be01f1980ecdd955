"""The model zoo: every architecture builds, trains a step, and padding changes nothing."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from builders import project_params, tiny_network

from imdb_sentiment.core import params as P
from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.inference.scoring import load_model
from imdb_sentiment.modeling.layers import HoistedGRU, MaskedPooling, StridedConv, WordPairIds
from imdb_sentiment.modeling.text import make_vectorizer
from imdb_sentiment.modeling.zoo import (
    Network,
    build_classifier,
    build_end_to_end,
    input_vectors,
    network_of,
)

VOCAB = ["good", "bad", "film", "not"]


@pytest.mark.parametrize("model", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    ("bidirectional", "units", "pooling"),
    [(False, [4], "last"), (True, [4, 3], "max"), (True, [4], "mean")],
)
@pytest.mark.slow
def test_architectures_build_and_fit(model, bidirectional, units, pooling):
    cfg = tiny_network(
        model=model,
        bidirectional=bidirectional,
        units=units,
        pooling=pooling,
        embedding_dim=4,
        dense_units=[3],
    )
    net = build_classifier(cfg, vocab_size=6)
    net.compile("adam", "binary_crossentropy")
    x = np.array([[2, 3, 0, 0], [4, 5, 2, 0]], dtype="int32")
    net.fit(x, np.array([1.0, 0.0]), epochs=1, verbose=0)
    out = net.predict(x, verbose=0)
    assert out.shape == (2, 1) and np.all((out >= 0) & (out <= 1))


def test_unknown_model_type_is_named():
    cfg = tiny_network(model="transformer")
    with pytest.raises(PipelineError, match="unknown model type 'transformer'"):
        build_classifier(cfg, 6)


@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
def test_padding_does_not_change_the_prediction(pooling):
    cfg = tiny_network(units=[4], embedding_dim=4, pooling=pooling, bidirectional=True)
    net = build_classifier(cfg, vocab_size=6)
    short = net.predict(np.array([[2, 3, 4]], dtype="int32"), verbose=0)
    padded = net.predict(np.array([[2, 3, 4, 0, 0, 0, 0]], dtype="int32"), verbose=0)
    np.testing.assert_allclose(short, padded, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(("width", "stride"), [(1, 1), (3, 2), (3, 3), (5, 2), (4, 4)])
@pytest.mark.parametrize("pooling", ["last", "max"])
def test_strided_convolution_keeps_padding_and_batching_out(width, stride, pooling):
    cfg = tiny_network(
        units=[4],
        embedding_dim=4,
        pooling=pooling,
        bidirectional=True,
        conv_filters=5,
        conv_width=width,
        conv_stride=stride,
    )
    net = build_classifier(cfg, vocab_size=9)
    rng = np.random.default_rng(0)
    lengths = [1, 2, 5, 6, 7]
    rows = [rng.integers(1, 9, n).astype("int32") for n in lengths]
    batch = np.zeros((len(rows), 7), dtype="int32")
    for row, ids in zip(batch, rows):
        row[: len(ids)] = ids
    together = net.predict(batch, verbose=0)
    more_padding = net.predict(np.pad(batch, [(0, 0), (0, 6)]), verbose=0)
    alone = np.concatenate([net.predict(ids[None], verbose=0) for ids in rows])
    np.testing.assert_allclose(together, more_padding, atol=1e-6)
    np.testing.assert_allclose(together, alone, atol=1e-6)


@pytest.mark.parametrize(("width", "stride"), [(3, 2), (2, 2), (5, 3)])
def test_strided_convolution_reads_every_real_step_once_per_window(width, stride):
    conv = StridedConv(1, width, stride)
    x = np.ones((1, 7, 1), dtype="float32")
    steps = np.array([[True] * 5 + [False] * 2])
    conv(x, steps)
    conv.set_weights([np.ones((width, 1, 1), "float32"), np.zeros(1, "float32")])  # window sums
    y, y_steps = conv(x, steps)
    assert y.shape[1] == y_steps.shape[1] == -(-7 // stride)
    assert int(np.sum(y_steps)) == -(-5 // stride)  # ceil(real steps / stride)
    # every real step, the last one included, reaches some real output
    for step in range(5):
        nudged = x.copy()
        nudged[0, step, 0] = 3.0
        changed = np.any(conv(nudged, steps)[0].numpy() != y.numpy(), axis=-1)[0]
        assert np.any(changed & y_steps[0].numpy()), step


@pytest.mark.parametrize(
    ("width", "stride"), [(1, 1), (3, 1), (3, 2), (2, 2), (5, 2), (4, 3), (7, 2)]
)
def test_strided_convolution_is_a_convolution_over_windows_ending_at_each_stride(width, stride):
    rng = np.random.default_rng(width * 10 + stride)
    x = rng.normal(size=(3, 9, 4)).astype("float32")
    steps = np.arange(9)[None, :] < np.array([[9], [6], [1]])
    conv = StridedConv(5, width, stride)
    conv(x, steps)
    kernel, bias = rng.normal(size=(width, 4, 5)), rng.normal(size=5)
    conv.set_weights([kernel.astype("float32"), bias.astype("float32")])
    y = conv(x, steps)[0].numpy()
    real = np.where(steps[..., None], x, 0.0)
    windows = -(-9 // stride)
    padded = np.pad(real, [(0, 0), (width - stride, windows * stride - 9), (0, 0)])
    for t in range(windows):  # window t: the `width` steps ending at step (t + 1) x stride - 1
        window = padded[:, t * stride : t * stride + width]
        expected = np.maximum(np.einsum("bwd,wdf->bf", window, kernel) + bias, 0.0)
        np.testing.assert_allclose(y[:, t], expected, atol=1e-5)


@pytest.mark.parametrize(("width", "stride"), [(3, 1), (5, 2)])
def test_strided_convolution_takes_an_empty_batch(width, stride):
    """A replica's share of an uneven batch can be empty (tests/system/test_distribute.py)."""
    conv = StridedConv(5, width, stride)
    conv(np.zeros((1, 9, 4), "float32"), np.ones((1, 9), bool))

    @tf.function(
        input_signature=[tf.TensorSpec((None, None, 4)), tf.TensorSpec((None, None), tf.bool)]
    )
    def forward_backward(x, steps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y, y_steps = conv(x, steps)
            loss = tf.reduce_sum(y)
        return y, y_steps, tape.gradient(loss, [x, *conv.trainable_variables])

    for batch in (0, 2):
        y, y_steps, grads = forward_backward(
            np.ones((batch, 9, 4), "float32"), np.ones((batch, 9), bool)
        )
        windows = -(-9 // stride)
        assert y.shape == (batch, windows, 5) and y_steps.shape == (batch, windows)
        assert [g.shape for g in grads] == [(batch, 9, 4), (width, 4, 5), (5,)]


def test_params_train_section_fills_every_field_of_the_network():
    params = project_params("train", units=[7, 5], dense_units=[3])
    network = network_of(params)
    assert network.units == (7, 5) and network.dense_units == (3,)
    assert network.model == params.model and network.conv_width == params.conv_width


def test_strided_convolution_needs_a_window_as_wide_as_its_stride():
    with pytest.raises(P.ParamsError, match="train.conv_width"):
        project_params("train", conv_width=2, conv_stride=3)
    with pytest.raises(P.ParamsError, match="train.conv_stride"):
        project_params("train", conv_stride=0)
    with pytest.raises(P.ParamsError, match="train.conv_filters"):
        project_params("train", conv_filters=-1)


def test_masked_pooling_ignores_padding():
    x = np.array([[[1.0], [5.0], [-9.0]]], dtype="float32")
    mask = np.array([[True, False, True]])
    assert MaskedPooling("max")(x, mask=mask).numpy().tolist() == [[1.0]]
    assert MaskedPooling("mean")(x, mask=mask).numpy().tolist() == [[-4.0]]
    empty = np.zeros((1, 3), dtype=bool)
    assert MaskedPooling("max")(x, mask=empty).numpy().tolist() == [[0.0]]


@pytest.mark.parametrize("conv_filters", [0, 3])
def test_end_to_end_model_round_trips_with_safe_mode(tmp_path, conv_filters):
    cfg = tiny_network(units=[4], embedding_dim=4, conv_filters=conv_filters)
    model = build_end_to_end(make_vectorizer(VOCAB, max_len=5), build_classifier(cfg, 6))
    texts = np.array(["good film", "", "not good " * 500, "Bad<br />film"], dtype=object)
    before = model(texts).numpy()
    path = tmp_path / "m.keras"
    model.save(path)
    after = load_model(path)(texts).numpy()
    np.testing.assert_allclose(before, after, atol=1e-7)
    assert before.shape == (4,)


def test_load_model_errors(tmp_path):
    with pytest.raises(PipelineError, match="model file not found"):
        load_model(tmp_path / "missing.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="could not load model"):
        load_model(broken)


def test_pretrained_embeddings_are_loaded_and_shape_checked():
    cfg = tiny_network(units=[4], embedding_dim=3)
    vectors = np.arange(18, dtype="float32").reshape(6, 3)
    net = build_classifier(cfg, 6, vectors)
    np.testing.assert_array_equal(net.get_layer("embedding").get_weights()[0], vectors)
    with pytest.raises(
        PipelineError, match="set preprocess.pretrain_dim equal to train.embedding_dim"
    ):
        build_classifier(cfg, 6, np.zeros((6, 5), dtype="float32"))


def test_the_window_keeps_first_or_last_tokens_of_each_text():
    texts = tf.constant(["good film bad not", "good film", ""])
    first, last = (make_vectorizer(VOCAB, max_len=3, keep=keep) for keep in ("first", "last"))
    ids = make_vectorizer(VOCAB)(texts).numpy().tolist()
    assert ids == [[2, 4, 3, 5], [2, 4, 0, 0], [0, 0, 0, 0]]
    assert first(texts).numpy().tolist() == [[2, 4, 3], [2, 4, 0], [0, 0, 0]]
    assert last(texts).numpy().tolist() == [[4, 3, 5], [2, 4, 0], [0, 0, 0]]
    # one padding step beyond the longest window; never zero steps
    assert make_vectorizer(VOCAB, max_len=9)(texts[1:]).numpy().tolist() == [[2, 4, 0], [0, 0, 0]]
    assert make_vectorizer(VOCAB, max_len=9)(texts[2:]).numpy().tolist() == [[0]]


def test_the_window_is_cut_before_the_batch_is_padded(monkeypatch):
    """A long text among short ones: no padded tensor is wider than the window, so a batch's
    memory follows max_len, not its longest text (Keras' own layer pads to the longest)."""
    widths = []
    to_tensor = tf.RaggedTensor.to_tensor

    def recording(self, *args, **kwargs):
        dense = to_tensor(self, *args, **kwargs)
        widths.append(int(dense.shape[1]))
        return dense

    monkeypatch.setattr(tf.RaggedTensor, "to_tensor", recording)
    texts = tf.constant(["good", "film " * 20_000 + "bad"])
    assert make_vectorizer(VOCAB, max_len=4, keep="last")(texts).numpy().tolist() == [
        [2, 0, 0, 0],
        [4, 4, 4, 3],
    ]
    assert widths and max(widths) <= 4
    widths.clear()
    make_vectorizer(VOCAB)(texts)  # the plain layer pads to the longest: what the test sees
    assert max(widths) == 20_001


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_len": 0}, r"max_len must be an integer in \[1, 1048576\]"),
        ({"max_len": True}, r"max_len must be an integer in \[1, 1048576\]"),
        ({"max_len": 3, "keep": "middle"}, "keep must be 'first' or 'last'"),
        ({"max_len": 3, "ragged": True}, "cannot be ragged too"),
    ],
)
def test_a_bad_window_is_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        make_vectorizer(VOCAB, **settings)


def test_the_end_to_end_model_needs_a_window():
    """A plain vectorizer would read every token, and nothing would say how many it reads."""
    cfg = tiny_network(units=[4], embedding_dim=4)
    with pytest.raises(TypeError, match="needs a WindowVectorization"):
        build_end_to_end(make_vectorizer(VOCAB), build_classifier(cfg, 6))


def keras_masked_reference(cfg: Network, ours):
    """The same network built the Keras way (masks, Bidirectional), with our weights copied in."""
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(6, cfg.embedding_dim, mask_zero=True)(ids)
    rnn = {
        "simple_rnn": keras.layers.SimpleRNN,
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
    }[cfg.model]
    bi = keras.layers.Bidirectional(rnn(cfg.units[0], return_sequences=cfg.pooling != "last"))
    x = bi(x)
    if cfg.pooling != "last":
        x = MaskedPooling(cfg.pooling)(x)
    prob = keras.layers.Dense(1, activation="sigmoid")(x)
    reference = keras.Model(ids, prob)
    reference.layers[1].set_weights(ours.get_layer("embedding").get_weights())
    name = f"{cfg.model}_0"
    bi.forward_layer.set_weights(ours.get_layer(name).get_weights())
    bi.backward_layer.set_weights(ours.get_layer(f"{name}_backward").get_weights())
    reference.layers[-1].set_weights(ours.get_layer("probability").get_weights())
    return reference


@pytest.mark.parametrize("model", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
def test_length_based_padding_equals_keras_masking(model, pooling):
    """Reversing each row's real steps for the backward direction gives exactly what
    Keras' masked Bidirectional layer computes, without its per-step masking."""
    cfg = tiny_network(
        model=model,
        units=[5],
        embedding_dim=4,
        pooling=pooling,
        bidirectional=True,
        dropout=0.0,
        embedding_dropout=0.0,
        conv_filters=0,
        word_pair_buckets=0,
    )
    ours = build_classifier(cfg, vocab_size=6)
    reference = keras_masked_reference(cfg, ours)
    ids = np.array([[2, 3, 4, 5, 0, 0], [5, 0, 0, 0, 0, 0], [2, 2, 3, 4, 5, 1]], dtype="int32")
    np.testing.assert_allclose(
        ours.predict(ids, verbose=0), reference.predict(ids, verbose=0), atol=1e-6
    )


@pytest.mark.parametrize("conv_filters", [0, 4])
def test_unmasked_padding_is_read_like_a_token(conv_filters):
    cfg = tiny_network(units=[4], embedding_dim=4, mask_padding=False, conv_filters=conv_filters)
    net = build_classifier(cfg, vocab_size=6)
    # A padding vector far from the small initial weights, so that reading it shows
    # above rounding whatever the random initialisation.
    table = net.get_layer("embedding").get_weights()
    table[0][0] = 2.0
    net.get_layer("embedding").set_weights(table)
    short = net.predict(np.array([[2, 3, 4]], dtype="int32"), verbose=0)
    padded = net.predict(np.array([[2, 3, 4, 0, 0, 0, 0]], dtype="int32"), verbose=0)
    assert not np.allclose(short, padded, atol=1e-6)


def test_predictions_do_not_depend_on_batching_or_workers():
    from imdb_sentiment.inference.scoring import predict_texts

    cfg = tiny_network(units=[4], embedding_dim=4)
    model = build_end_to_end(make_vectorizer(VOCAB, max_len=5), build_classifier(cfg, 6))
    texts = ["good film", "bad", "not good film at all good", "film", "bad bad not", "good"] * 3
    one = predict_texts(model, texts, batch_size=len(texts), workers=1)
    for batch_size, workers in ((1, 1), (2, 2), (4, 3)):
        np.testing.assert_allclose(
            predict_texts(model, texts, batch_size, workers=workers), one, atol=1e-6
        )


def test_word_pair_ids_name_each_pair_and_keep_padding_out():
    ids = np.array([[2, 3, 2, 3, 0, 0], [3, 2, 3, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype="int32")
    pairs = WordPairIds(buckets=1000, vocab_size=6)(ids).numpy()
    assert pairs.dtype == np.int32
    assert (pairs[ids == 0] == 0).all() and (
        (pairs[ids != 0] >= 1) & (pairs[ids != 0] < 1000)
    ).all()
    # (2, 3) twice in the first row and once in the second; (3, 2) likewise; each first word
    # pairs with the start of the review
    assert pairs[0, 1] == pairs[0, 3] == pairs[1, 2]
    assert pairs[0, 2] == pairs[1, 1] != pairs[0, 1]
    assert pairs[0, 0] != pairs[0, 2] and pairs[1, 0] != pairs[0, 1]
    # a pair's id depends on the pair only, not on the batch or the padded length
    alone = WordPairIds(buckets=1000, vocab_size=6)(ids[1:2, :3]).numpy()
    np.testing.assert_array_equal(alone, pairs[1:2, :3])
    assert WordPairIds(buckets=1000, vocab_size=6)(ids[:, :0]).shape == (3, 0)


def test_word_pair_ids_spread_over_the_buckets():
    vocab = 40002
    rng = np.random.default_rng(0)
    ids = rng.integers(1, vocab, size=(200, 500)).astype("int32")
    pairs = WordPairIds(buckets=257, vocab_size=vocab)(ids).numpy()
    counts = np.bincount(pairs.ravel(), minlength=257)
    assert counts[0] == 0
    assert counts[1:].min() > 0.8 * counts[1:].mean() and counts[1:].max() < 1.2 * counts[1:].mean()


@pytest.mark.slow
@pytest.mark.parametrize("conv_filters", [0, 3])
def test_word_pairs_build_train_round_trip_and_keep_padding_out(tmp_path, conv_filters):
    cfg = tiny_network(
        units=[4],
        embedding_dim=4,
        conv_filters=conv_filters,
        word_pair_buckets=50,
        word_pair_dim=3,
    )
    net = build_classifier(cfg, vocab_size=6)
    assert net.get_layer("pair_embedding").get_weights()[0].shape == (50, 3)
    assert input_vectors(net).shape[-1] == 4 + 3  # each word's vector, then its pair's
    net.compile("adam", "binary_crossentropy")
    x = np.array([[2, 3, 0, 0], [4, 5, 2, 0]], dtype="int32")
    net.fit(x, np.array([1.0, 0.0]), epochs=1, verbose=0)
    short = net.predict(np.array([[2, 3, 4]], dtype="int32"), verbose=0)
    padded = net.predict(np.array([[2, 3, 4, 0, 0, 0, 0]], dtype="int32"), verbose=0)
    np.testing.assert_allclose(short, padded, atol=1e-6)
    model = build_end_to_end(make_vectorizer(VOCAB, max_len=5), net)
    texts = np.array(["good film", "", "not good " * 500, "film good"], dtype=object)
    before = model(texts).numpy()
    path = tmp_path / "m.keras"
    model.save(path)
    np.testing.assert_allclose(load_model(path)(texts).numpy(), before, atol=1e-7)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_hoisted_gru_computes_keras_gru_with_the_same_weights(return_sequences, monkeypatch):
    x = tf.random.normal((5, 17, 8), seed=1)
    hoisted = HoistedGRU(6, return_sequences=return_sequences)
    plain = keras.layers.GRU(6, return_sequences=return_sequences)
    hoisted(x)
    plain(x)
    plain.set_weights(hoisted.get_weights())  # a plain GRU loads its weights
    assert plain.get_config() == {**hoisted.get_config(), "name": plain.name}

    def outputs_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.square(y))
        return (y, *tape.gradient(loss, [*layer.trainable_weights, x]))

    keras_own = outputs_and_gradients(plain)

    def keras_loop(*args, **kwargs):
        raise AssertionError("HoistedGRU fell back to Keras' loop")

    monkeypatch.setattr(keras.layers.GRU, "inner_loop", keras_loop)
    for mine, theirs in zip(outputs_and_gradients(hoisted), keras_own):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_the_default_network_runs_its_gru_steps_the_hoisted_way():
    net = build_classifier(tiny_network(), vocab_size=9)
    grus = [layer for layer in net.layers if isinstance(layer, keras.layers.GRU)]
    assert len(grus) == 2 and all(isinstance(layer, HoistedGRU) for layer in grus)
