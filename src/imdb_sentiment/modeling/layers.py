"""The project's own Keras layers and metric, registered so that saved models load.

Padding is handled by sequence lengths, not by Keras masks. Rows are right
padded, so a forward recurrence reaches every real step before any padding:
its outputs there are exact without a mask. The backward direction runs
forward over each row's real steps reversed in place (`ReverseSteps`), and
pooling reads only real steps (`LastStep`, `MaskedPooling`). That skips the
per-step masking work of Keras' recurrent loop and keeps the layers eligible
for cuDNN on GPU (docs/lab/decisions.md).

The package registers these as soon as Keras is imported (see `__init__.py`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from imdb_sentiment.modeling import text as _text  # noqa: F401  registers `standardize` for loading


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class StepMask(layers.Layer):
    """Token ids (batch, time) -> which steps are real: ids != 0, or every step when
    padding is to be read like a token (`mask_padding` false)."""

    def __init__(self, mask_padding: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.mask_padding = mask_padding

    def call(self, ids):
        if self.mask_padding:
            return ops.not_equal(ids, 0)
        return ops.ones_like(ids, dtype="bool")

    def get_config(self):
        return {**super().get_config(), "mask_padding": self.mask_padding}


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class WordPairIds(layers.Layer):
    """Token ids (batch, time) -> ids of the pairs (previous word, word) hashed into
    `buckets`, 1 to `buckets` - 1; 0 (padding) where the word is padding. The first word
    pairs with padding, so it has a pair id of its own."""

    # a multiplicative hash modulo the prime 2^31 - 1: neighbouring pair numbers land in
    # unrelated buckets, and every product stays inside int64
    MULTIPLIER = 2654435761
    PRIME = 2**31 - 1

    def __init__(self, buckets: int, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.buckets = buckets
        self.vocab_size = vocab_size

    def call(self, ids):
        ids = ops.cast(ids, "int64")
        previous = ops.concatenate([ops.zeros_like(ids[:, :1]), ids], axis=1)[:, :-1]
        pair = ops.mod(previous * self.vocab_size + ids, self.PRIME)
        hashed = ops.mod(ops.mod(pair * self.MULTIPLIER, self.PRIME), self.buckets - 1) + 1
        return ops.cast(ops.where(ids != 0, hashed, 0), "int32")

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "vocab_size": self.vocab_size}


def _lengths(steps):
    return ops.sum(ops.cast(steps, "int32"), axis=1)


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class ReverseSteps(layers.Layer):
    """Reverse each row's real steps in time; the right padding stays where it is."""

    def call(self, x, steps):
        return tf.reverse_sequence(x, _lengths(steps), seq_axis=1, batch_axis=0)


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class LastStep(layers.Layer):
    """Each row's output at its last real step (zeros for a row with none)."""

    def call(self, x, steps):
        lengths = _lengths(steps)
        last = tf.gather(x, ops.maximum(lengths - 1, 0), batch_dims=1)
        return ops.where(ops.expand_dims(lengths > 0, -1), last, ops.zeros_like(last))


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class StridedConv(layers.Layer):
    """A ReLU convolution over windows of `width` steps that moves `stride` steps at a time, so
    the recurrence after it runs 1/`stride` as many steps: (x, steps) -> (y, steps of y).

    Window t ends at step (t + 1) x stride - 1: every real step is read, and a row with L
    real steps has ceil(L / stride) real outputs. Padded steps are zeroed first and the
    row is zero-padded to a whole stride, so a window reaching past a row's end reads the
    same zeros whatever the padded length of its batch.

    One `tf.nn.conv1d` over the row with width - stride zeros in front computes every
    window at once. It replaced a form built of matrix products, which was slower once
    training's thread pools were fixed; why, in docs/lab/decisions.md.
    """

    def __init__(self, filters: int, width: int, stride: int, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= stride <= width:
            raise ValueError(f"StridedConv needs 1 <= stride <= width, got {stride=} {width=}")
        self.filters, self.width, self.stride = filters, width, stride

    def build(self, x_shape, steps_shape=None):
        self.kernel = self.add_weight(
            shape=(self.width, x_shape[-1], self.filters),
            initializer="glorot_uniform",
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x, steps):
        x = x * ops.expand_dims(ops.cast(steps, x.dtype), -1)
        length = ops.shape(x)[1]
        windows = -(-length // self.stride)
        # width - stride zeros in front, so window t ends at step (t + 1) x stride - 1
        x = ops.pad(x, [[0, 0], [self.width - self.stride, windows * self.stride - length], [0, 0]])
        y = tf.nn.conv1d(x, ops.cast(self.kernel, x.dtype), stride=self.stride, padding="VALID")
        # TensorFlow's CPU convolution hands an empty batch back in its input's shape
        y = ops.reshape(y, (ops.shape(x)[0], windows, self.filters))
        y = ops.relu(y + ops.cast(self.bias, x.dtype))
        return y, steps[:, :: self.stride]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "width": self.width,
            "stride": self.stride,
        }


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class HoistedGRU(layers.GRU):
    """Keras' GRU, whose loop on a CPU takes every step's input projection from one matrix
    product made before it (as cuDNN does), and runs fewer ops a step: it splits the
    products where Keras slices them, and one sigmoid serves both gates.

    The weights, the config and the gates are Keras' own, so a plain `GRU` loads the same
    weights and computes the same numbers, to float rounding. On a GPU, and for what this
    loop does not cover (masks, dropout, `go_backwards`, `reset_after` false), Keras' own
    loop runs: cuDNN where it is eligible. Why: docs/lab/decisions.md.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if (
            mask is not None
            or self.go_backwards
            or self.dropout
            or self.recurrent_dropout
            or not (cell.reset_after and cell.use_bias)
            or tf.config.list_physical_devices("GPU")
        ):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        h = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        dtype, units = sequences.dtype, cell.units
        input_bias, recurrent_bias = tf.unstack(ops.cast(cell.bias, dtype))
        recurrent_kernel = ops.cast(cell.recurrent_kernel, dtype)
        # time-major: step t of every row is one read of a TensorArray
        projected = tf.einsum("bte,eg->tbg", sequences, ops.cast(cell.kernel, dtype)) + input_bias
        length = tf.shape(projected)[0]
        inputs = tf.TensorArray(dtype, size=length, element_shape=[None, 3 * units])
        inputs = inputs.unstack(projected)

        def step(t, h, outputs):
            x_zr, x_h = tf.split(inputs.read(t), [2 * units, units], axis=-1)
            h_zr, h_h = tf.split(
                tf.matmul(h, recurrent_kernel) + recurrent_bias, [2 * units, units], axis=-1
            )
            z, r = tf.split(cell.recurrent_activation(x_zr + h_zr), 2, axis=-1)
            candidate = cell.activation(x_h + r * h_h)
            h = candidate + z * (h - candidate)  # z * h + (1 - z) * candidate, in fewer ops
            return t + 1, h, outputs.write(t, h)

        outputs = tf.TensorArray(dtype, size=length, element_shape=[None, units])
        _, h, outputs = tf.while_loop(
            lambda t, *_: t < length, step, (0, h, outputs), maximum_iterations=length
        )
        return h, tf.transpose(outputs.stack(), [1, 0, 2]), [h]


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class NgramVectorization(layers.TextVectorization):
    """Keras' TextVectorization, loading a long vocabulary fast. Given a list, as a saved
    config holds it, Keras tracks each entry as a Python object, seconds for the n-gram
    models' hundreds of thousands of n-grams; given an array, it does not."""

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("vocabulary"), list):
            config = {**config, "vocabulary": np.array(config["vocabulary"], dtype=object)}
        return super().from_config(config)


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class MaskedPooling(layers.Layer):
    """Max or mean over time that ignores padded steps (Keras' global max pooling does not)."""

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean"):
            raise ValueError(f"MaskedPooling mode must be 'max' or 'mean', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.max(x, axis=1) if self.mode == "max" else ops.mean(x, axis=1)
        weight = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        if self.mode == "mean":
            return ops.sum(x * weight, axis=1) / ops.maximum(ops.sum(weight, axis=1), 1.0)
        pooled = ops.max(x + (weight - 1.0) * 1e9, axis=1)
        return ops.where(ops.sum(weight, axis=1) > 0, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class LogisticHead(layers.Layer):
    """Logistic regression over `n_features` features: fixed weights `coef` and `bias`, set
    from a model fitted with scikit-learn. Subclasses turn their input into the features."""

    def __init__(self, n_features: int, **kwargs):
        super().__init__(**kwargs)
        self.n_features = n_features

    def build(self, input_shape):
        self.coef = self.add_weight(
            shape=(self.n_features, 1), initializer="zeros", trainable=False, name="coef"
        )
        self.bias = self.add_weight(shape=(1,), initializer="zeros", trainable=False, name="bias")

    def probability(self, logits):
        return ops.reshape(ops.sigmoid(logits + self.bias), (-1,))

    def get_config(self):
        return {**super().get_config(), "n_features": self.n_features}


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class TfidfLogistic(LogisticHead):
    """L2-normalised tf-idf features (OOV column dropped) -> logistic regression P(positive)."""

    def call(self, tfidf):
        features = tfidf[:, 1:]  # column 0 counts out-of-vocabulary n-grams
        norm = ops.sqrt(ops.sum(ops.square(features), axis=1, keepdims=True))
        features = features / ops.maximum(norm, 1e-12)
        return self.probability(ops.matmul(features, self.coef))


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class SparseLogistic(LogisticHead):
    """Sparse features (batch, n_features) -> logistic regression P(positive) (batch,)."""

    def call(self, features):
        if not isinstance(features, tf.SparseTensor):
            features = tf.sparse.from_dense(features)
        return self.probability(
            tf.sparse.sparse_dense_matmul(tf.cast(features, "float32"), self.coef)
        )


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class TargetAccuracy(keras.metrics.BinaryAccuracy):
    """Binary accuracy against targets rounded to 0/1: a soft teacher target counts by its
    side of 0.5. Registered here because a saved model names its training metrics."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(ops.round(y_true), y_pred, sample_weight)
