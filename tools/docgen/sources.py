"""The committed result files the generated blocks read, and the keys params.yaml has now.

Standard library only (no YAML parser), so `make docs` runs without the project's environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

EVAL = "metrics/eval.json"
TRAIN = "metrics/train/metrics.json"
MODEL_CARD = "models/model.params.json"
DATA = "metrics/data.json"
PREPROCESS = "metrics/preprocess.json"
SEEDS = "metrics/seeds.json"
EXPERIMENTS = "metrics/experiments.json"
CEILINGS = "metrics/ceilings.json"
BENCH = "benchmarks/results.json"
TIMINGS = "benchmarks/timings.json"
ROBUSTNESS = "metrics/robustness.json"
BEHAVIOUR = "metrics/behaviour.json"
COUNTS = "metrics/eval/counts.json"
PARAMS = "params.yaml"


class Sources:
    """The result files under one repository root, read on first use; absent files are None."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, Any] = {}

    def get(self, rel: str) -> Any:
        """The parsed JSON file at `rel` under the root, or None when it is absent."""
        if rel not in self._cache:
            path = self.root / rel
            self._cache[rel] = (
                json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            )
        return self._cache[rel]

    def param_keys(self) -> set[str] | None:
        """The keys params.yaml has now (`seed`, `train.units`, ...), or None without it."""
        if PARAMS not in self._cache:
            path = self.root / PARAMS
            self._cache[PARAMS] = (
                yaml_keys(path.read_text(encoding="utf-8")) if path.is_file() else None
            )
        return self._cache[PARAMS]


def yaml_keys(text: str) -> set[str]:
    """The dotted keys of a YAML file of sections and scalars, as params.yaml is (a top-level
    key, or a section's key indented under it); standard library only, so no YAML parser."""
    keys, section = set(), None
    for line in text.splitlines():
        match = re.match(r"( *)([A-Za-z_][\w-]*):", line)
        if not match:
            continue
        if not match.group(1):
            section = match.group(2)
            keys.add(section)
        elif section is not None:
            keys.add(f"{section}.{match.group(2)}")
    return keys


CHANGED_KEY = re.compile(r"(?:^|,\s*)([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)=")


def retired_keys(change: str, keys: set[str] | None) -> list[str]:
    """The keys a `-S` change names that params.yaml no longer has (none without params.yaml)."""
    if not change or keys is None:
        return []
    return [key for key in CHANGED_KEY.findall(change) if key not in keys]
