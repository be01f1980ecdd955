"""Pinned numeric kernels: the same float results on every x86-64 CPU with AVX2.

OpenBLAS (NumPy, SciPy) and oneDNN (TensorFlow's matrix products) pick their
kernels by the CPU's instruction set at run time, and kernels for different
instruction sets sum in different orders, so the last bits of a result depend
on the CPU. Capping both at AVX2 makes every CPU that has AVX2 (and any wider
set, such as AVX-512) run the same kernels. The libraries read these settings
when they load, so `pin()` must run before NumPy or TensorFlow is imported: the
pipeline's stages start through `python -m imdb_sentiment.stage`, and the
command line calls it first thing.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

PINNED = {"OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2"}


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


def pin() -> bool:
    """Set the kernel choice in the environment; False (nothing set) on CPUs without AVX2,
    where results may differ in the last bits from those of AVX2 machines."""
    if not cpu_has_avx2():
        return False
    os.environ.update(PINNED)
    return True
