"""The committed result files the generated blocks read, and the keys params.yaml has now.

Standard library only (no YAML parser), so `make docs` runs without the project's environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipeline_paths import pipeline_paths  # tools/, on the path when tools/docs.py runs

# The pipeline's result files: (the key of its path in dvc.yaml's `paths`, a file under it)
Output = tuple[str, str]
EVAL: Output = ("eval", "")
TRAIN: Output = ("live", "metrics.json")
MODEL_PARAMS: Output = ("model_params", "")
DATA: Output = ("data_report", "")
PREPROCESS: Output = ("preprocess_report", "")
ROBUSTNESS: Output = ("robustness", "")
BEHAVIOUR: Output = ("behaviour", "")
COUNTS: Output = ("eval_plots", "counts.json")
# the tools' own result files
SEEDS = "metrics/seeds.json"
EXPERIMENTS = "metrics/experiments.json"
CEILINGS = "metrics/ceilings.json"
BENCH = "benchmarks/results.json"
TIMINGS = "benchmarks/timings.json"
PARAMS = "params.yaml"


class Sources:
    """The result files under one repository root, read on first use; absent files are None."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, Any] = {}

    def path(self, rel: str | Output) -> str:
        """`rel` itself, or where a pipeline output is by the root's dvc.yaml."""
        if isinstance(rel, str):
            return rel
        if "dvc.yaml" not in self._cache:
            self._cache["dvc.yaml"] = pipeline_paths(self.root)
        key, name = rel
        return "/".join(part for part in (self._cache["dvc.yaml"][key], name) if part)

    def get(self, rel: str | Output) -> Any:
        """The parsed JSON file at `rel` under the root, or None when it is absent."""
        rel = self.path(rel)
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
