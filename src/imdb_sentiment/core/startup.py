"""Process start-up before NumPy or TensorFlow load: pinned numeric kernels, a quiet TensorFlow.

OpenBLAS (NumPy, SciPy) and oneDNN (TensorFlow's matrix products) pick their
kernels by the CPU's instruction set at run time, and kernels for different
instruction sets sum in different orders, so the last bits of a result depend
on the CPU. Capping both at AVX2 makes every CPU that has AVX2 (and any wider
set, such as AVX-512) run the same kernels. The libraries read these settings
when they load, so `pin_kernels()` must run before NumPy or TensorFlow is
imported: the pipeline's stages start through `python -m imdb_sentiment.pipeline`,
and the command line calls it first thing. The web app calls it before it loads
TensorFlow, which scores; Streamlit has loaded NumPy by then.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path

PINNED = {"OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2"}
VERBOSE_ENV = "IMDB_SENTIMENT_VERBOSE"


def cpu_has_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True on an x86-64 Linux CPU that reports AVX2 and FMA (what the pinned kernels need)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return {"avx2", "fma"} <= flags
    return False


def pin_kernels() -> bool:
    """Set the kernel choice in the environment; False (nothing set) on CPUs without AVX2,
    where results may differ in the last bits from those of AVX2 machines."""
    if not cpu_has_avx2():
        return False
    os.environ.update(PINNED)
    return True


# set inside a verbose block, so that the blocks of the modules it imports keep the lines too
_VERBOSE_BLOCK: contextvars.ContextVar[bool] = contextvars.ContextVar("verbose", default=False)


@contextlib.contextmanager
def quiet_tensorflow(verbose: bool = False) -> Iterator[None]:
    """Import TensorFlow inside this block without its C++ log lines (absl, CUDA probing on
    machines without a GPU), which go straight to file descriptor 2. `verbose`,
    IMDB_SENTIMENT_VERBOSE=1, or an enclosing verbose block keeps them."""
    if verbose or _VERBOSE_BLOCK.get() or os.environ.get(VERBOSE_ENV) == "1":
        token = _VERBOSE_BLOCK.set(True)
        try:
            yield
        finally:
            _VERBOSE_BLOCK.reset(token)
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = (
        "3"  # also over the Makefile's 2, which lets errors through
    )
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # fd 2 is closed: nothing to silence
        saved = None
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        if saved is not None:
            os.dup2(devnull, 2)
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        os.close(devnull)
        quiet_python_loggers()


def quiet_python_loggers() -> None:
    """TensorFlow's and absl's Python loggers at errors only: their warnings (a SavedModel's
    untraced functions, retracing notes) are not the user's business."""
    import logging

    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")


def set_thread_pools(inter_op: int, intra_op: int) -> bool:
    """Size TensorFlow's thread pools (0 leaves a pool at TensorFlow's choice).

    TensorFlow accepts this only before it runs its first op in the process:
    call it first thing. Returns False, changing nothing, when it is too late.
    """
    import tensorflow as tf

    try:
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    except RuntimeError:  # the runtime is already running with its pools
        return False
    return True
