"""A measurement, not an argument: the real command over endless stdin keeps flat memory.

`python -m imdb_sentiment.inference.cli predict` (the console script's code) with the tiny
pipeline's model reads generated reviews without end for MEASURED_SECONDS after its first
row; its RSS is sampled all along (benchmarks/cli_memory.py, which `make`-less runs can call
too). Streaming means the second half's peak stays at the first quarter's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MEASURED_SECONDS = 20
# What "flat" allows: allocator noise and TensorFlow's caches settling, not growth with input
GROWTH_SHARE, GROWTH_MB = 0.15, 100


def cli_memory():
    """benchmarks/cli_memory.py as a module (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        "cli_memory", REPO / "benchmarks" / "cli_memory.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_memory_stays_flat_over_endless_stdin(tiny_pipeline):
    result = cli_memory().measure(tiny_pipeline["model"], seconds=MEASURED_SECONDS)
    print(
        f"\nCLI over endless stdin: peak RSS {result['peak_rss_mb']:.0f} MB over "
        f"{result['seconds']} s, {result['rows']} rows ({result['rows_per_second']}/s); "
        f"first quarter {result['first_quarter_peak_mb']:.0f} MB, second half "
        f"{result['second_half_peak_mb']:.0f} MB"
    )
    assert result["seconds"] >= MEASURED_SECONDS * 0.9, result
    assert result["rows_last_quarter"] > 0, "rows stopped coming"
    early, late = result["first_quarter_peak_mb"], result["second_half_peak_mb"]
    assert late <= early + max(GROWTH_SHARE * early, GROWTH_MB), result
