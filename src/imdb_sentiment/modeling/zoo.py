"""The model zoo: recurrent classifiers over token ids, and the end-to-end text model.

`build_classifier` makes SimpleRNN / LSTM / GRU networks, optionally
bidirectional and stacked, optionally behind a strided convolution that
shortens the sequence, with padding kept out of the result (by sequence
lengths, see `layers.py`) and a choice of pooling.

`build_end_to_end` puts the vectorizer in front, so the saved model takes raw
review strings and returns P(positive).

`Network` names the architecture; the train stage fills it from params.yaml's `train`
section (`network_of`), tests and benchmarks build it directly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.core.params import TrainParams
from imdb_sentiment.modeling.layers import (
    HoistedGRU,
    LastStep,
    MaskedPooling,
    ReverseSteps,
    StepMask,
    StridedConv,
    WordPairIds,
)
from imdb_sentiment.modeling.text import WindowVectorization

RECURRENT = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": HoistedGRU}
WORDS_AND_PAIRS = "words_and_pairs"


@dataclass(frozen=True)
class Network:
    """A classifier's architecture; each field is the `train` key of its name in params.yaml,
    which documents it and holds its default."""

    model: str
    bidirectional: bool
    units: tuple[int, ...]
    activation: str
    embedding_dim: int
    mask_padding: bool
    embedding_dropout: float
    word_pair_buckets: int
    word_pair_dim: int
    conv_filters: int
    conv_width: int
    conv_stride: int
    pooling: str
    dropout: float
    dense_units: tuple[int, ...]


def network_of(params: TrainParams) -> Network:
    """The architecture params.yaml's `train` section describes."""
    values = {field.name: getattr(params, field.name) for field in dataclasses.fields(Network)}
    return Network(
        **{**values, "units": tuple(params.units), "dense_units": tuple(params.dense_units)}
    )


def _recurrent(cfg: Network, units: int, name: str) -> layers.Layer:
    return RECURRENT[cfg.model](units, activation=cfg.activation, return_sequences=True, name=name)


def build_classifier(
    cfg: Network, vocab_size: int, embeddings: np.ndarray | None = None
) -> keras.Model:
    """Token ids (batch, time), 0 = padding -> P(positive) (batch, 1).

    `embeddings` (vocab_size, embedding_dim), if given, initialises the embedding layer.
    """
    if cfg.model not in RECURRENT:
        raise PipelineError(
            f"unknown model type {cfg.model!r}; choose one of {', '.join(RECURRENT)}"
        )
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    steps = StepMask(cfg.mask_padding, name="real_steps")(ids)
    x = layers.Embedding(vocab_size, cfg.embedding_dim, name="embedding")(ids)
    if cfg.word_pair_buckets:
        # a vector per word pair holds what the pair means beyond its two words ("not good")
        pairs = WordPairIds(cfg.word_pair_buckets, vocab_size, name="word_pairs")(ids)
        x = layers.Concatenate(name=WORDS_AND_PAIRS)(
            [
                x,
                layers.Embedding(cfg.word_pair_buckets, cfg.word_pair_dim, name="pair_embedding")(
                    pairs
                ),
            ]
        )
    if cfg.embedding_dropout:
        # drops whole embedding channels across time, the usual regulariser for text RNNs
        x = layers.SpatialDropout1D(cfg.embedding_dropout, name="embedding_dropout")(x)
    if cfg.conv_filters:
        x, steps = StridedConv(
            cfg.conv_filters, cfg.conv_width, cfg.conv_stride, name="strided_conv"
        )(x, steps)
    for depth, units in enumerate(cfg.units):
        name = f"{cfg.model}_{depth}"
        forward = _recurrent(cfg, units, name)(x)
        if cfg.bidirectional:
            backward = _recurrent(cfg, units, f"{name}_backward")(
                ReverseSteps(name=f"reverse_{depth}")(x, steps)
            )
        if depth < len(cfg.units) - 1 or cfg.pooling != "last":
            if cfg.bidirectional:
                backward = ReverseSteps(name=f"unreverse_{depth}")(backward, steps)
                forward = layers.Concatenate(name=f"bi_{cfg.model}_{depth}")([forward, backward])
            x = forward
        else:
            # the backward direction's last state is where it ends: its last real step too
            x = LastStep(name="last_step")(forward, steps)
            if cfg.bidirectional:
                x = layers.Concatenate(name="last_states")(
                    [x, LastStep(name="last_step_backward")(backward, steps)]
                )
    if cfg.pooling != "last":
        x = MaskedPooling(cfg.pooling, name=f"{cfg.pooling}_pool")(x, mask=steps)
    if cfg.dropout:
        x = layers.Dropout(cfg.dropout, name="dropout")(x)
    for index, units in enumerate(cfg.dense_units):
        x = layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout, name=f"dense_dropout_{index}")(x)
    prob = layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(x)
    model = keras.Model(ids, prob, name=f"{'bi' if cfg.bidirectional else ''}{cfg.model}")
    if embeddings is not None:
        expected = (vocab_size, cfg.embedding_dim)
        if embeddings.shape != expected:
            raise PipelineError(
                f"pretrained embeddings have shape {embeddings.shape}, the model needs {expected}: "
                f"set preprocess.pretrain_dim equal to train.embedding_dim ({cfg.embedding_dim})"
            )
        model.get_layer("embedding").set_weights([embeddings])
    return model


def input_vectors(classifier: keras.Model) -> keras.KerasTensor:
    """What a classifier from `build_classifier` reads each word as: its word vector, and its
    pair's vector beside it when it has them (the tensor adversarial training pushes)."""
    names = {layer.name for layer in classifier.layers}
    return classifier.get_layer(WORDS_AND_PAIRS if WORDS_AND_PAIRS in names else "embedding").output


def build_end_to_end(vectorizer: WindowVectorization, classifier: keras.Model) -> keras.Model:
    """Raw review strings (batch,) -> P(positive) (batch,)."""
    if not isinstance(vectorizer, WindowVectorization):
        raise TypeError(
            "build_end_to_end needs a WindowVectorization (make_vectorizer with a max_len), "
            f"got {type(vectorizer).__name__}"
        )
    texts = keras.Input(shape=(), dtype="string", name="text")
    prob = classifier(vectorizer(texts))
    prob = layers.Reshape((), name="p_positive")(prob)
    return keras.Model(texts, prob, name="sentiment")
