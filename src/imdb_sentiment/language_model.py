"""Language-model pretraining: the network first learns to guess nearby words, then sentiment.

With `train.lm_pretrain_epochs` > 0, the classifier's embeddings, convolution
and first recurrent layer first learn to predict the words next to each step of the
training and unlabeled reviews (Dai & Le 2015; Peters et al. 2018), and only
then learn the labels. The forward direction predicts the words just after
what it has read, the backward one the words just before. The softmax has
`lm_pretrain_words` classes: the most frequent words, and one class for every
rarer word, so that it stays small enough for a CPU. Validation text is never read.
Pretraining uses Adam at `train.learning_rate`, whatever `train.optimizer` says,
and reads the reviews in its own seeded order, so the fit after it sees the
batches that it would see without it.

Behind the strided convolution, step t has read words up to (t + 1) x stride - 1
going forward and from (t + 1) x stride - width going backward, so the forward
state at t predicts the `stride` words after the first, the backward state the
`stride` words before the second: no state sees a word it predicts.
"""

from __future__ import annotations

import sys
import time

import keras
import tensorflow as tf
from keras import layers
from keras.src.losses import loss as loss_module

from imdb_sentiment import params as P
from imdb_sentiment.layers import ReverseSteps


def target_positions(windows: tf.Tensor, width: int, stride: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Word positions (windows, stride) that the forward and the backward state at each step
    predict; a negative position means none."""
    ends = (tf.range(windows)[:, None] + 1) * stride  # one past the last word a window reads
    offsets = tf.range(stride)[None, :]
    return ends + offsets, ends - width - 1 - offsets


def word_classes(ids: tf.Tensor, words: int) -> tf.Tensor:
    """Token ids -> language-model classes: ids below `words` (the most frequent words, as the
    vocabulary is in frequency order) stay, every other id becomes 1, the out-of-vocabulary
    id, which stands for every rarer word; 0 stays padding, which is never a target."""
    return tf.where(ids < words, ids, tf.ones_like(ids))


class LanguageModelFit(keras.Model):
    """Trains `classifier`'s layers up to its first recurrent layer to predict nearby words.

    `classifier` is a functional model from `zoo.build_classifier`; the weights are
    shared, so fitting this pretrains the classifier in place. A one-directional
    classifier predicts only the next words.
    """

    def __init__(self, classifier: keras.Model, cfg: P.TrainParams, vocab_size: int, **kwargs):
        super().__init__(name=f"language_model_{classifier.name}", **kwargs)
        # the first layer: above it, a forward state would read the backward states below
        # (one-directional stacks stop there too, for one rule)
        first = f"{cfg.model}_0"
        steps = (classifier.get_layer("strided_conv").output[1] if cfg.conv_filters
                 else classifier.get_layer("real_steps").output)
        directions = [classifier.get_layer(first).output]
        if cfg.bidirectional:  # each row's real steps reversed
            directions.append(classifier.get_layer(f"{first}_backward").output)
        self.states = keras.Model(classifier.input, [steps, *directions], name="states")
        self.words = min(cfg.lm_pretrain_words, vocab_size)
        self.width, self.stride = ((cfg.conv_width, cfg.conv_stride) if cfg.conv_filters
                                   else (1, 1))
        self.heads = [layers.Dense(self.words, name=name)
                      for name in ("next_words", "previous_words")[: len(directions)]]
        self.unreverse = ReverseSteps(name="unreverse")  # the backward states back in time order
        self.word_loss_mean = keras.metrics.Mean(name="word_loss")

    @property
    def metrics(self):
        return [self.word_loss_mean]

    def call(self, ids, training=False):
        """Which steps are real, and the next-word (and previous-word) logits
        (batch, steps, words)."""
        steps, *directions = self.states(ids, training=training)
        if len(directions) == 2:
            directions[1] = self.unreverse(directions[1], steps)
        return steps, *(head(states) for head, states in zip(self.heads, directions))

    def train_step(self, data):
        ids = tf.cast(data[0] if isinstance(data, tuple) else data, tf.int32)
        with tf.GradientTape() as tape:
            loss = self.word_loss(ids, *self(ids, training=True))
            # as Keras' own step: a replica's share of the mean, scaled against float16 underflow
            scaled = self.optimizer.scale_loss(loss_module.scale_loss_for_distribution(loss))
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self.word_loss_mean.update_state(loss)
        return {"word_loss": self.word_loss_mean.result()}

    def word_loss(self, ids: tf.Tensor, steps: tf.Tensor, *logits_by_direction: tf.Tensor
                  ) -> tf.Tensor:
        """Mean cross-entropy over the real words that real steps predict. (With padding
        masked, a padding step's backward state has read the whole review, so padding steps
        predict nothing.)"""
        positions_by_direction = target_positions(tf.shape(steps)[1], self.width, self.stride)
        # enough padding on the right for the last window's forward targets
        ids = tf.pad(ids, [[0, 0], [0, 2 * self.stride]])
        real_step = tf.cast(steps, tf.float32)[:, :, None]
        total, count = 0.0, 0.0
        for logits, positions in zip(logits_by_direction, positions_by_direction):
            targets = tf.gather(ids, tf.maximum(positions, 0), axis=1)  # (batch, steps, stride)
            targets = tf.where(positions[None] >= 0, targets, tf.zeros_like(targets))
            weight = tf.cast(targets > 0, tf.float32) * real_step
            logits = tf.cast(logits, tf.float32)
            # a step's `stride` targets are all scored by that step's one softmax
            picked = tf.gather(logits, word_classes(targets, self.words), axis=2, batch_dims=2)
            log_probs = picked - tf.reduce_logsumexp(logits, axis=2, keepdims=True)
            total += -tf.reduce_sum(log_probs * weight)
            count += tf.reduce_sum(weight)
        return total / tf.maximum(count, 1.0)


def pretrain(classifier: keras.Model, cfg: P.TrainParams, vocab_size: int,
             dataset: tf.data.Dataset, verbose: int) -> dict:
    """Fit `classifier`'s layers as a language model over `dataset`'s token ids for
    `cfg.lm_pretrain_epochs` epochs; returns the per-epoch losses and the time taken."""
    model = LanguageModelFit(classifier, cfg, vocab_size)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate))
    print(f"train: language-model pretraining, {cfg.lm_pretrain_epochs} epoch(s) over "
          f"{model.words} word classes", file=sys.stderr)
    started = time.perf_counter()
    history = model.fit(dataset.map(lambda ids, labels: ids), epochs=cfg.lm_pretrain_epochs,
                        verbose=verbose, shuffle=False)
    return {"lm_losses": [round(float(v), 4) for v in history.history["word_loss"]],
            "lm_seconds": round(time.perf_counter() - started, 1)}
