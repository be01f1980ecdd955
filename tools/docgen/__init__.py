"""The generators behind tools/docs.py, grouped by the doc they feed: each turns the committed
result files (`sources.Sources`) into the markdown of the generated block of its name.

Standard library only, so `make docs` runs without the project's environment.
"""

from __future__ import annotations

from collections.abc import Callable

from .benchmarks import (
    bench_inference,
    bench_machine,
    bench_pinning,
    bench_quick,
    bench_settings,
    bench_speedup,
    bench_stages,
    bench_training,
)
from .experiment_tables import (
    ceilings,
    experiments_scored,
    experiments_settings,
    experiments_table,
)
from .machine import machine_needs
from .model_card import model_card
from .readme import model_summary, readme_results, seeds_summary, val_noise
from .results import results_data, results_preprocess, results_test, results_train, seeds_runs
from .robustness import robustness
from .sources import Sources

# Block name (the NAME of <!-- generated:NAME -->) -> its generator
GENERATORS: dict[str, Callable[[Sources], str]] = {
    "robustness": robustness,
    "machine-needs": machine_needs,
    "model-card": model_card,
    "model-summary": model_summary,
    "readme-results": readme_results,
    "seeds-summary": seeds_summary,
    "val-noise": val_noise,
    "results-test": results_test,
    "results-train": results_train,
    "results-data": results_data,
    "results-preprocess": results_preprocess,
    "seeds-runs": seeds_runs,
    "experiments-table": experiments_table,
    "experiments-scored": experiments_scored,
    "experiments-settings": experiments_settings,
    "ceilings": ceilings,
    "bench-machine": bench_machine,
    "bench-training": bench_training,
    "bench-speedup": bench_speedup,
    "bench-settings": bench_settings,
    "bench-stages": bench_stages,
    "bench-inference": bench_inference,
    "bench-pinning": bench_pinning,
    "bench-quick": bench_quick,
}
