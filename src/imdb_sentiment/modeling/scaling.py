"""Training at scale: tf.distribute strategies, mixed precision and XLA for the train stage.

`train.distribute` builds and fits the model under a tf.distribute strategy
(all local GPUs, or a cluster described by TF_CONFIG); `train.batch_size` is per
replica. `train.mixed_precision` sets Keras' dtype policy while the model is
built and trained. `train.jit_compile` compiles the training step with XLA.

This module and `adversarial` are the ones that touch private Keras names,
each for a reason given where it is used; tests/system/test_distribute.py,
tests/modeling/test_adversarial.py and the XLA test in tests/pipeline/test_pipeline.py fail when
Keras changes them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator

import keras
import tensorflow as tf

from imdb_sentiment.core.errors import PipelineError
from imdb_sentiment.core.startup import PINNED


def mirrored_devices() -> list[str] | None:
    """Devices to mirror over: TF's choice (all GPUs) if there is a GPU, else all CPU devices.

    Without a GPU, TF mirrors over CPU:0 alone; several logical CPU devices exist
    only when someone configured them (to simulate replicas), so use them all.
    """
    if tf.config.list_physical_devices("GPU"):
        return None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


@functools.cache
def make_strategy(kind: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for `train.distribute`; "none" is TF's default (no-op) strategy.

    Create it before any other TensorFlow op: the multi-worker strategy must
    configure collective ops at start-up. One per process (hence the cache):
    a second MirroredStrategy's collectives clash with the first one's.
    """
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(mirrored_devices())
    if kind == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            print(
                "train: warning: distribute=multi_worker but TF_CONFIG is not set: "
                "training as a single worker",
                file=sys.stderr,
            )
        # the cluster and this task's role come from the TF_CONFIG environment variable
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def distributed_fit(model: keras.Model, strategy: tf.distribute.Strategy) -> Iterator[None]:
    """Work around Keras 3 fit() bugs under a tf.distribute strategy, inside the block.

    Before fitting, Keras all-reduces the first batch across replicas only to
    learn its shapes: that fails when replicas get batches of different shapes
    (an odd batch split in two, a small validation set) and, with several
    workers, on any (x, y) batch. Here the model is built from the first local
    replica's batch instead. With several workers Keras also reduces each step's
    scalar logs along an axis they lack (keras-team/keras#20585,
    tensorflow/tensorflow#72388); there, per-step logs come from the first local
    replica: they only feed the progress bar, because epoch logs (history and
    DVCLive) are read from metric variables summed over all replicas.
    Uses private Keras names; tests/system/test_distribute.py fails when they change.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches)
                )
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    reduce_per_replica = tf_trainer.reduce_per_replica

    def reduce_first(values, distribution, reduction="auto"):
        return reduce_per_replica(
            values, distribution, "first" if reduction == "auto" else reduction
        )

    model._maybe_symbolic_build = symbolic_build
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        tf_trainer.reduce_per_replica = reduce_first
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = reduce_per_replica
        del model._maybe_symbolic_build  # the instance attribute shadowed the method


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to `name` inside the block, restored after it."""
    if name == "none":
        yield
        return
    if not tf.config.list_physical_devices("GPU"):
        if (
            name == "mixed_bfloat16"
            and os.environ.get("ONEDNN_MAX_CPU_ISA") == PINNED["ONEDNN_MAX_CPU_ISA"]
        ):
            # oneDNN has no bfloat16 kernels below AVX-512 and aborts the process
            raise PipelineError(
                "train.mixed_precision=mixed_bfloat16 needs a GPU: on CPU, bfloat16 needs "
                "AVX-512 kernels, and the stages pin AVX2 ones for reproducible results"
            )
        print(
            f"train: warning: mixed_precision={name} but no GPU is visible; honouring it, "
            "but reduced precision on CPU is emulated and usually slower",
            file=sys.stderr,
        )
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        # later models in this process (the end-to-end wrapper, tests) must not inherit it
        keras.mixed_precision.set_global_policy(previous)


def keep_jit_compile(model: keras.Model) -> None:
    """XLA for a model compiled with jit_compile=True. Keras silently drops XLA whenever
    TensorFlow op determinism is on (always, in training); TensorFlow itself asks XLA for
    deterministic ops then (xla_gpu_deterministic_ops), so keep XLA, as asked for."""
    if not model.jit_compile:
        model._jit_compile = True
