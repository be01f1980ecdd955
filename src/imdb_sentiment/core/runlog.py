"""The run log: how long each stage took and its peak memory, kept out of every tracked output.

Wall-clock facts differ on every run, so a stage that wrote them into its outputs
would leave `dvc.lock` and git dirty after a run that reproduced every result.
They go to logs/ instead (git-ignored, no DVC output); `make timings` gathers them
into benchmarks/timings.json when a person chooses to publish them.
"""

from __future__ import annotations

import json
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

LOG_DIR_ENV = "IMDB_SENTIMENT_LOGS"
DEFAULT_LOG_DIR = Path("logs")


def log_dir() -> Path:
    """$IMDB_SENTIMENT_LOGS, else logs/ under the working directory (the checkout, under DVC)."""
    return Path(os.environ.get(LOG_DIR_ENV) or DEFAULT_LOG_DIR)


def peak_memory_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def record(kind: str, name: str, facts: dict) -> None:
    """Write logs/<kind>/<name>.json; a log that cannot be written never fails the work."""
    entry = {
        "name": name,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        **facts,
    }
    try:
        folder = log_dir() / kind
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass


class StageTimer:
    """Times a stage; on success records its seconds and peak memory under logs/stages/."""

    def __init__(self, stage: str):
        self.stage = stage

    def __enter__(self) -> StageTimer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            record(
                "stages",
                self.stage,
                {
                    "seconds": round(time.perf_counter() - self.started, 1),
                    "peak_memory_mib": peak_memory_mib(),
                },
            )
