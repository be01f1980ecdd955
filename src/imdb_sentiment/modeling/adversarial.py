"""Adversarial training on the word vectors (Goodfellow et al. 2015; Miyato et al. 2017).

Each training step also scores every review with its embedded words pushed a
small distance in the direction that raises its loss most, and learns from
both. The distance is `epsilon` times the mean length of the review's word
vectors, over the whole review, so it does not depend on the embeddings' scale.
It makes the network's answer stable under small changes of word meaning,
which is where a network trained on few labels overfits. With word-pair vectors
(`train.word_pair_buckets`), each word's vector and its pair's are pushed together. Only
fitting changes: the wrapped classifier is what gets saved.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras.src import tree
from keras.src.losses import loss as loss_module
from keras.src.trainers.data_adapters import data_adapter_utils

from imdb_sentiment.modeling.zoo import input_vectors


class AdversarialFit(keras.Model):
    """Fits `classifier` on clean and adversarially perturbed embeddings, 1:1.

    `classifier` is a functional model from `zoo.build_classifier`; what gets pushed is
    `zoo.input_vectors`. Prediction and evaluation are the classifier's own; the weights
    are shared.
    """

    def __init__(self, classifier: keras.Model, epsilon: float, **kwargs):
        super().__init__(name=f"adversarial_{classifier.name}", **kwargs)
        self.classifier = classifier
        self.epsilon = float(epsilon)
        ids = classifier.input
        embedded = input_vectors(classifier)
        self.embed = keras.Model(ids, embedded, name="embed")
        # the rest of the network, from the embedded words (token ids still give the lengths)
        self.from_embedded = keras.Model([ids, embedded], classifier.output, name="from_embedded")

    def call(self, ids, training=False):
        return self.classifier(ids, training=training)

    def perturbation(self, ids: tf.Tensor, embedded: tf.Tensor, gradient: tf.Tensor) -> tf.Tensor:
        """`epsilon` x the mean length of a review's word vectors (padding left out), along
        the gradient of its loss; one vector per review, (batch, time, dim)."""
        direction = gradient / (tf.norm(gradient, axis=[1, 2], keepdims=True) + 1e-12)
        real = tf.cast(ids > 0, embedded.dtype)
        word_lengths = tf.reduce_sum(tf.norm(embedded, axis=-1) * real, axis=1)
        mean_length = word_lengths / tf.maximum(tf.reduce_sum(real, axis=1), 1.0)
        return tf.stop_gradient(self.epsilon * mean_length[:, None, None] * direction)

    def train_step(self, data):
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape(persistent=True) as tape:
            embedded = self.embed(x, training=True)
            y_pred = self.from_embedded([x, embedded], training=True)
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            with tape.stop_recording():
                # one backward pass gives the clean loss's weight gradients and the direction
                *clean_gradients, toward = tape.gradient(
                    self.optimizer.scale_loss(loss), [*self.trainable_weights, embedded]
                )
            shifted = embedded + self.perturbation(x, embedded, toward)
            adversarial_pred = self.from_embedded([x, shifted], training=True)
            adversarial_loss = self._compute_loss(
                x=x, y=y, y_pred=adversarial_pred, sample_weight=sample_weight, training=True
            )
        adversarial_gradients = tape.gradient(
            self.optimizer.scale_loss(adversarial_loss), self.trainable_weights
        )
        del tape
        gradients = [_add(a, b) for a, b in zip(clean_gradients, adversarial_gradients)]
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        # "loss" stays the clean loss, comparable with a run without adversarial training
        self._loss_tracker.update_state(
            loss_module.unscale_loss_for_distribution(loss),
            sample_weight=tf.shape(next(i for i in tree.flatten(x) if i is not None))[0],
        )
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _add(a, b):
    """Sum of two gradients, either of which may be None or IndexedSlices."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tf.IndexedSlices) and isinstance(b, tf.IndexedSlices):
        # an embedding's gradients: the rows each pass touched, kept sparse
        return tf.IndexedSlices(
            tf.concat([a.values, b.values], 0), tf.concat([a.indices, b.indices], 0), a.dense_shape
        )
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)
